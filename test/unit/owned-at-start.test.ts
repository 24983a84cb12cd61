// What the restart sweep keeps: the addresses whose Lease names this node, and, having no Lease,
// the ecmp addresses it is eligible for.
import test from "ava";
import type { V1Lease } from "@kubernetes/client-node";
import type { AddressDemand, ServingTarget } from "../../src/agent/address-reconciler.ts";
import type { Eligibility } from "../../src/agent/eligibility.ts";
import { ownedAtStart } from "../../src/agent/lifecycle.ts";
import { addressWork, serviceWork } from "../../src/agent/work-keys.ts";
import { LEASE_ANNOTATION_ADDRESS } from "../../src/election/lease-names.ts";
import type { AnnouncementMode } from "../../src/routing/announcement-mode.ts";

const SERVICE = { namespace: "default", name: "web" };
const HELD = "203.0.113.200";
const OTHERS = "203.0.113.201";
const ECMP = "203.0.113.202";
const ECMP_INELIGIBLE = "203.0.113.203";

const modes: Record<string, AnnouncementMode> = {
  [HELD]: "bgp",
  [OTHERS]: "bgp",
  [ECMP]: "ecmp",
  [ECMP_INELIGIBLE]: "ecmp",
};

function lease(address: string, holder: string): V1Lease {
  return {
    metadata: { name: `vipd-ip-${address}`, annotations: { [LEASE_ANNOTATION_ADDRESS]: address } },
    spec: { holderIdentity: holder },
  };
}

const target: Pick<ServingTarget, "demand" | "selfEligibility"> = {
  demand: (address): AddressDemand | null => {
    const mode = modes[address];
    if (mode === undefined) return null;
    const service = address === ECMP_INELIGIBLE ? { ...SERVICE, name: "local" } : SERVICE;
    return { vip: { address, family: 4 }, service, interfaceOverride: undefined, mode };
  },
  selfEligibility: (service): Eligibility =>
    service.name === "local"
      ? { eligible: false, code: "no-local-endpoint", reason: "no ready local endpoint" }
      : { eligible: true },
};

test("a restart keeps the held addresses and the ecmp addresses this node is eligible for", (t) => {
  const owned = ownedAtStart([lease(HELD, "node-a"), lease(OTHERS, "node-b")], "node-a", {
    target: target as ServingTarget,
    addressesOf: () => [],
    everything: () => [...Object.keys(modes).map(addressWork), serviceWork(SERVICE)],
  });
  t.deepEqual([...owned.keys()].sort(), [addressWork(HELD), addressWork(ECMP)].sort());
});
