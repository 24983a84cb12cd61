// The bench's own watch of vipd's VIPAllocations, every change stamped with the monotonic time it
// arrived and handed to the ledger (allocation-analysis.ts). Re-opened after errors, as the status
// watch is.
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import { monotonicNs } from "../../lab/index.ts";
import { VIP_ALLOCATION_PLURAL, VIPD_GROUP_VERSION, type VipAllocation } from "../../src/addresses/api.ts";
import { AllocationLedger, sighting } from "./allocation-analysis.ts";
import { keepWatching } from "./status-watch.ts";

export interface AllocationWatch {
  readonly ledger: AllocationLedger;
  stop(): void;
}

export async function watchAllocations(kubeConfig: KubeConfig): Promise<AllocationWatch> {
  const ledger = new AllocationLedger();
  // Without a resourceVersion the watch starts with every existing object as ADDED.
  const watch = await keepWatching((ended) =>
    new Watch(kubeConfig).watch(
      `/apis/${VIPD_GROUP_VERSION}/${VIP_ALLOCATION_PLURAL}`,
      { allowWatchBookmarks: true },
      (phase, object: VipAllocation) => {
        const seen = sighting(object);
        if (seen === undefined) return;
        if (phase === "DELETED") ledger.deleted(seen.name);
        else if (phase === "ADDED" || phase === "MODIFIED") ledger.seen(seen, monotonicNs());
      },
      ended,
    ),
  );
  return {
    ledger,
    stop: watch.stop,
  };
}
