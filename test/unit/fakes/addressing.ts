// Pools and allocations for the unit tests of modules that read them: none by default, as in a
// cluster without vipd's CRDs, or the given ones.
import { AllocationIndex } from "../../../src/addresses/allocation-index.ts";
import type { Pool } from "../../../src/addresses/pools.ts";
import type { Addressing } from "../../../src/agent/service-intent.ts";

export function addressingOf(
  parts: {
    readonly pools?: readonly Pool[];
    readonly allocations?: AllocationIndex;
    readonly poolAddressesOnly?: boolean;
    readonly namespaceLabels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  } = {},
): Addressing {
  return {
    pools: parts.pools ?? [],
    poolAddressesOnly: parts.poolAddressesOnly ?? true,
    allocations: parts.allocations ?? new AllocationIndex(),
    namespaceLabels: (namespace) => parts.namespaceLabels?.[namespace],
  };
}
