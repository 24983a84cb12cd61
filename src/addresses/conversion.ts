// What `vipd convert` prints, from kube-vip's ConfigMap (kube-vip-configmap.ts) or MetalLB's objects
// (metallb-convert.ts): the VIPPools, what could not be converted, and what the user should know.
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
