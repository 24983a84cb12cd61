// Rule 6: who claims a free Service first. Rendezvous (highest-random-weight) hashing gives every
// candidate the same order for a Service without talking to the others, spreads Services evenly, and
// moves only the Services of a node that leaves — never those of the others.
import { createHash } from "node:crypto";

function weight(node: string, serviceKey: string): bigint {
  return createHash("sha256").update(`${node}\u0000${serviceKey}`).digest().readBigUInt64BE(0);
}

/**
 * Candidates, best first. Ties (a hash collision) fall back to the name so every agent agrees.
 * Nodes in `last` (cordoned ones, rule 7) come after all the others, in rendezvous order among
 * themselves, so a drained node is the last to be asked and the spread of the rest is unchanged.
 */
export function rankCandidates(
  candidates: Iterable<string>,
  serviceKey: string,
  last: readonly string[] = [],
): string[] {
  return [...new Set(candidates)]
    .map((node) => ({ node, late: last.includes(node), weight: weight(node, serviceKey) }))
    .sort((a, b) => {
      if (a.late !== b.late) return a.late ? 1 : -1;
      if (a.weight === b.weight) return a.node.localeCompare(b.node);
      return a.weight > b.weight ? -1 : 1;
    })
    .map(({ node }) => node);
}
