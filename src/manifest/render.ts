// Kubernetes objects as one multi-document YAML stream, the form `kubectl apply -f` reads. Strings
// YAML 1.1 would read as something else ("true", "9559", "y") are quoted, since the API server's
// decoder is YAML 1.1; double quotes and no line folding keep the output as Prettier writes it, so
// the checked-in manifests are byte for byte what `vipd manifest` prints.
import { dump } from "js-yaml";

export interface RenderOptions {
  /** Comment lines at the top, without the leading "#". */
  readonly header: readonly string[];
  readonly objects: readonly object[];
}

export function renderYaml(options: RenderOptions): string {
  const header = options.header.map((line) => `# ${line}\n`).join("");
  const documents = options.objects.map((object) =>
    dump(object, { lineWidth: -1, noRefs: true, quoteStyle: "double" }),
  );
  return header + documents.join("---\n");
}

const PRETTIER_PRINT_WIDTH = 110;

function isScalar(value: unknown): boolean {
  return value === null || typeof value !== "object";
}

/**
 * JSON as Prettier writes it (.prettierrc's width), so that a checked-in file is byte for byte what
 * the generator prints: objects one key a line, arrays of scalars on one line where they fit.
 */
export function renderJson(value: unknown): string {
  const render = (item: unknown, indent: string, lead: number): string => {
    if (isScalar(item)) return JSON.stringify(item);
    const inner = `${indent}  `;
    if (Array.isArray(item)) {
      if (item.length === 0) return "[]";
      const flat = `[${item.map((each) => JSON.stringify(each)).join(", ")}]`;
      // lead: the characters before the array on its line; the comma after it counts too.
      if (item.every(isScalar) && lead + flat.length + 1 <= PRETTIER_PRINT_WIDTH) return flat;
      const lines = item.map((each) => `${inner}${render(each, inner, inner.length)}`);
      return `[\n${lines.join(",\n")}\n${indent}]`;
    }
    const entries = Object.entries(item as Record<string, unknown>);
    if (entries.length === 0) return "{}";
    const lines = entries.map(([key, each]) => {
      const prefix = `${inner}${JSON.stringify(key)}: `;
      return `${prefix}${render(each, inner, prefix.length)}`;
    });
    return `{\n${lines.join(",\n")}\n${indent}}`;
  };
  return `${render(value, "", 0)}\n`;
}
