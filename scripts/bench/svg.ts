// Small hand-written SVG: just enough for the three plots of the report (rectangles, lines,
// circles, text, axes). Every function returns markup as a string, so the plots are pure
// functions of the results and can be unit-tested.

export function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

const round = (value: number) => Math.round(value * 10) / 10;

type Attributes = Readonly<Record<string, string | number>>;

function attributes(attrs: Attributes): string {
  return Object.entries(attrs)
    .map(([name, value]) => ` ${name}="${typeof value === "number" ? round(value) : escapeXml(value)}"`)
    .join("");
}

export function element(name: string, attrs: Attributes, content?: string): string {
  return content === undefined
    ? `<${name}${attributes(attrs)}/>`
    : `<${name}${attributes(attrs)}>${content}</${name}>`;
}

export function text(x: number, y: number, content: string, attrs: Attributes = {}): string {
  return element("text", { x, y, ...attrs }, escapeXml(content));
}

export function document(options: {
  width: number;
  height: number;
  title: string;
  body: readonly string[];
}): string {
  const { width, height } = options;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    element("title", {}, escapeXml(options.title)),
    element("rect", { x: 0, y: 0, width, height, fill: "white" }),
    ...options.body,
    "</svg>",
    "",
  ].join("\n");
}

/** Colours that stay apart for the usual colour-vision deficiencies (Okabe–Ito). */
export const PALETTE = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#56B4E9",
  "#D55E00",
  "#F0E442",
  "#000000",
];
export const FAILURE_COLOUR = "#D55E00";

export interface LinearScale {
  (value: number): number;
  readonly ticks: readonly number[];
}

/** Maps [from, to] onto [start, end] with ticks at round steps. */
export function linearScale(
  domain: readonly [number, number],
  range: readonly [number, number],
): LinearScale {
  const [from, to] = domain;
  const [start, end] = range;
  const span = to - from || 1;
  const scale = (value: number) => start + ((value - from) / span) * (end - start);
  const rawStep = span / 6;
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const step = ([1, 2, 5, 10].find((factor) => factor * magnitude >= rawStep) ?? 10) * magnitude;
  // Rounded to the step's decimals, so that 3 × 0.2 is labelled 0.6 and not 0.6000000000000001.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const ticks: number[] = [];
  for (let tick = Math.ceil(from / step) * step; tick <= to + step / 1e6; tick += step)
    ticks.push(Number((Math.round(tick / step) * step).toFixed(decimals)));
  return Object.assign(scale, { ticks });
}

/** Maps [from, to] (both > 0) logarithmically, with ticks at powers of ten. */
export function logScale(domain: readonly [number, number], range: readonly [number, number]): LinearScale {
  const [from, to] = domain.map(Math.log10) as [number, number];
  const inner = linearScale([from, to], range);
  const scale = (value: number) => inner(Math.log10(value));
  const ticks: number[] = [];
  for (let power = Math.ceil(from); power <= Math.floor(to); power++) ticks.push(10 ** power);
  return Object.assign(scale, { ticks });
}
