// The report as one screen for a person: about 50 lines of at most 100 columns, whatever the size of
// the cluster. Lines are cut rather than wrapped, except what to do next, which is wrapped once;
// nodes beyond a screenful are counted, the unusual ones (holder, refused) shown first.
import {
  formatAge,
  type AddressReport,
  type ExplainReport,
  type NodeReport,
  type PoolReport,
} from "./explain.ts";

export const SCREEN_COLUMNS = 100;
const NODES_SHOWN = 12;
const HINT_LINES = 2;

function fit(line: string): string {
  return line.length <= SCREEN_COLUMNS ? line : `${line.slice(0, SCREEN_COLUMNS - 1)}…`;
}

/** Words of text in lines of the screen's width after the prefix, at most `lines` of them. */
function wrap(prefix: string, text: string, lines: number): string[] {
  const width = SCREEN_COLUMNS - prefix.length;
  const out: string[] = [];
  let current = "";
  for (const word of text.split(" ")) {
    if (current !== "" && current.length + 1 + word.length > width) {
      out.push(current);
      current = word;
    } else current = current === "" ? word : `${current} ${word}`;
  }
  if (current !== "") out.push(current);
  const indent = " ".repeat(prefix.length);
  const shown = out.slice(0, lines).map((line, index) => (index === 0 ? prefix : indent) + line);
  if (out.length > lines) shown[lines - 1] = fit(`${shown[lines - 1] ?? ""} ${out.slice(lines).join(" ")}`);
  return shown;
}

function usage(pool: PoolReport): string {
  const families = [
    pool.ipv4 === undefined ? undefined : `IPv4 ${pool.ipv4.free} of ${pool.ipv4.total} free`,
    pool.ipv6 === undefined ? undefined : `IPv6 ${pool.ipv6.free} of ${pool.ipv6.total} free`,
  ].filter((each) => each !== undefined);
  const flags = [pool.disabled ? "disabled" : undefined, pool.autoAssign ? undefined : "autoAssign false"];
  const kind = pool.origin === "VIPPool" ? "VIPPool" : "kube-vip pool";
  return `${kind} ${pool.name} (${[...families, ...flags.filter((each) => each !== undefined)].join(", ")})`;
}

function heartbeatText(heartbeat: NodeReport["heartbeat"]): string {
  if (heartbeat === null) return "no heartbeat";
  return `heartbeat ${formatAge(heartbeat.renewedAgoMs)} ago${heartbeat.stale ? " (STALE)" : ""}`;
}

function addressLines(address: AddressReport, report: ExplainReport): string[] {
  const pool = report.pools.find((each) => each.name === address.pool);
  const where =
    address.pool === undefined ? "in no pool" : pool === undefined ? `pool ${address.pool}` : usage(pool);
  const others = (address.allocation?.services ?? []).filter((each) => each !== report.service);
  const sharing =
    address.allocation === undefined
      ? address.pool === undefined
        ? ""
        : ", no VIPAllocation yet"
      : others.length === 0
        ? `, allocation ${address.allocation.name}${address.allocation.released ? " (released)" : ""}`
        : `, shared with ${others.join(", ")} (key ${address.allocation.sharingKey ?? "none"})`;
  const head = `  ${address.address}${address.external ? " (spec.externalIPs)" : ""}  ${where}${sharing}`;
  const { lease } = address;
  if (lease === undefined) return [fit(head), fit(`    no ownership Lease yet: nobody has claimed it`)];
  const transitions = `${lease.transitions} transition${lease.transitions === 1 ? "" : "s"}`;
  const holder =
    lease.holder === null
      ? `no holder (cleared ${formatAge(lease.changedAgoMs)} ago)`
      : `holder ${lease.holder}, acquired ${formatAge(lease.acquiredAgoMs)} ago, ${heartbeatText(address.holderHeartbeat ?? null)}`;
  return [fit(head), fit(`    Lease ${lease.name}: ${holder}, ${transitions}`)];
}

function nodeLine(node: NodeReport, width: number): string {
  const name = node.name.padEnd(width);
  const marks = [node.holder ? "HOLDER" : undefined, ...node.notes].filter((each) => each !== undefined);
  const state = node.candidate
    ? `candidate, ${heartbeatText(node.heartbeat)}`
    : `not eligible: ${node.reasons.join("; ")}`;
  return fit(`  ${name}  ${[state, ...marks].join("; ")}`);
}

function nodeLines(report: ExplainReport): string[] {
  const order = report.claimOrder.length === 0 ? "" : ` (claim order: ${report.claimOrder.join(", ")})`;
  const lines = [fit(`Nodes${order}`)];
  if (report.nodes.length === 0) return [...lines, "  no Node objects"];
  const unusual = (node: NodeReport): boolean => node.holder || !node.candidate || node.notes.length > 0;
  const ordered = [...report.nodes.filter(unusual), ...report.nodes.filter((node) => !unusual(node))];
  const width = Math.min(24, Math.max(...report.nodes.map((node) => node.name.length)));
  const shown = ordered.slice(0, NODES_SHOWN);
  lines.push(...shown.map((node) => nodeLine(node, width)));
  const rest = ordered.slice(NODES_SHOWN);
  if (rest.length > 0) {
    const candidates = rest.filter((node) => node.candidate).length;
    lines.push(`  … and ${rest.length} more (${candidates} candidates)`);
  }
  return lines;
}

function requestLine(report: ExplainReport): string {
  const { request } = report;
  const from =
    request.source === "allocation"
      ? `a pool allocation${request.pool === undefined ? "" : ` from ${request.pool} (vipd.io/pool)`}`
      : request.source === "none"
        ? "nothing: vipd is not asked for an address"
        : `${request.source}${request.value === undefined ? "" : ` "${request.value}"`}`;
  const key = request.sharingKey === undefined ? "" : `; sharing key "${request.sharingKey}"`;
  return fit(`Addresses, from ${from}${key}`);
}

function statusLines(report: ExplainReport): string[] {
  const { status } = report;
  const ingress = status.ingress.length === 0 ? "ingress empty" : `ingress ${status.ingress.join(", ")}`;
  const holder = `vipd.io/holder ${status.holderAnnotation ?? "unset"}`;
  const condition =
    status.condition === undefined
      ? "no vipd.io/Announced condition"
      : `vipd.io/Announced ${status.condition.status} (${status.condition.reason}, ${formatAge(status.condition.changedAgoMs)} ago)`;
  const lines = [fit(`Status: ${ingress} · ${holder} · ${condition}`)];
  if (status.condition !== undefined && status.condition.message !== "")
    lines.push(fit(`  ${status.condition.message}`));
  return lines;
}

function eventLines(report: ExplainReport): string[] {
  if (report.events.length === 0) return ["Events: none"];
  return [
    "Events (newest last)",
    ...report.events.map((event) => {
      const count = event.count > 1 ? ` ×${event.count}` : "";
      const from = event.from === "" ? "" : ` [${event.from}]`;
      return fit(`  ${formatAge(event.agoMs).padStart(4)}  ${event.reason}${count}${from}: ${event.message}`);
    }),
  ];
}

export function renderReport(report: ExplainReport): string {
  const lines: string[] = [fit(`${report.service}: ${report.verdict}`)];
  lines.push(requestLine(report));
  for (const problem of report.request.problems) lines.push(...wrap("  refused: ", problem, HINT_LINES));
  if (report.addresses.length === 0)
    lines.push(report.request.problems.length === 0 ? "  none yet" : "  none served");
  for (const address of report.addresses) lines.push(...addressLines(address, report));
  const unshown = report.pools.filter((pool) => !report.addresses.some((each) => each.pool === pool.name));
  if (unshown.length > 0) lines.push(fit(`  may take one from: ${unshown.map(usage).join("; ")}`));
  lines.push(...nodeLines(report), ...statusLines(report), ...eventLines(report), "Next");
  for (const hint of report.hints) lines.push(...wrap("  - ", hint, HINT_LINES));
  for (const unread of report.unread) lines.push(fit(`Not read: ${unread}`));
  return `${lines.join("\n")}\n`;
}
