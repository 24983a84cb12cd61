// What `vipd convert` prints, from kube-vip's ConfigMap (kube-vip-configmap.ts) or MetalLB's objects
// (metallb-convert.ts): the VIPPools, what could not be converted, and what the user should know.
import { MAX_POOL_ADDRESSES } from "../manifest/crds.ts";
import { VIP_POOL_KIND, VIPD_GROUP_VERSION, type VipPool, type VipPoolSpec } from "./api.ts";

export interface VipPoolConversion {
  readonly pools: VipPool[];
  /** What was left out or cannot mean the same in vipd; printed on stderr. */
  readonly problems: string[];
  /** What was converted with a change the user must act on; printed as comments above the pools. */
  readonly notes: string[];
}

export function vipPool(name: string, spec: VipPoolSpec): VipPool {
  return { apiVersion: VIPD_GROUP_VERSION, kind: VIP_POOL_KIND, metadata: { name }, spec };
}

/** The pools the CRD admits, by the number of entries; the others left out with a problem. */
export function admitted(pools: readonly VipPool[], problems: string[]): VipPool[] {
  return pools.filter((pool) => {
    const entries = pool.spec?.addresses.length ?? 0;
    if (entries <= MAX_POOL_ADDRESSES) return true;
    problems.push(
      `${pool.metadata?.name ?? ""}: ${String(entries)} address entries, and a VIPPool holds at most ${String(MAX_POOL_ADDRESSES)}; left out`,
    );
    return false;
  });
}
