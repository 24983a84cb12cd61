// Rule 6: who claims a free Service first. Rendezvous (highest-random-weight) hashing gives every
// candidate the same order for a Service without talking to the others, spreads Services evenly, and
// moves only the Services of a node that leaves — never those of the others.
import { createHash } from "node:crypto";

function weight(node: string, serviceKey: string): bigint {
  return createHash("sha256").update(`${node}\u0000${serviceKey}`).digest().readBigUInt64BE(0);
}

/** Candidates, best first. Ties (a hash collision) fall back to the name so every agent agrees. */
export function rankCandidates(candidates: Iterable<string>, serviceKey: string): string[] {
  return [...new Set(candidates)]
    .map((node) => ({ node, weight: weight(node, serviceKey) }))
    .sort((a, b) => (a.weight === b.weight ? a.node.localeCompare(b.node) : a.weight > b.weight ? -1 : 1))
    .map(({ node }) => node);
}
