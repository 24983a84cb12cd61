// A pool as the agent reads it, before overlaps are resolved (pools.ts): from a VIPPool object, or
// from kube-vip-cloud-provider's kube-system/kubevip ConfigMap (kube-vip-configmap.ts), so that
// clusters moving from kube-vip keep their address plan unchanged.
import type { VipPoolSpec } from "./api.ts";

export type PoolOrigin = "VIPPool" | "kube-vip";

export interface PoolInput {
  readonly name: string;
  readonly origin: PoolOrigin;
  /** metadata.creationTimestamp in ms: of two overlapping pools the older keeps the overlap. */
  readonly createdAt: number;
  readonly spec: VipPoolSpec;
  /** kube-vip's allow-share-*: the pool's Services may share addresses as if they had one key. */
  readonly allowShare?: boolean;
  /** kube-vip's skip-end-ips-in-cidr: a CIDR entry's first and last addresses are not handed out. */
  readonly skipCidrEnds?: boolean;
}
