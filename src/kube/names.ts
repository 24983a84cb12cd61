// Names users see on their objects (docs/design.md, names users see), in one place.
export const ANNOTATION_LOAD_BALANCER_IPS = "vipd.io/loadBalancerIPs";
export const ANNOTATION_IGNORE = "vipd.io/ignore";
export const ANNOTATION_HOLDER = "vipd.io/holder";
export const ANNOTATION_INTERFACE = "vipd.io/interface";
export const ANNOTATION_KUBE_VIP_IPS = "kube-vip.io/loadbalancerIPs";
export const ANNOTATION_METALLB_IPS = "metallb.io/loadBalancerIPs";
export const ANNOTATION_POOL = "vipd.io/pool";
export const ANNOTATION_METALLB_POOL = "metallb.io/address-pool";
export const ANNOTATION_SHARED_IP = "vipd.io/allow-shared-ip";
export const ANNOTATION_METALLB_SHARED_IP = "metallb.io/allow-shared-ip";

/** The Service condition vipd writes with its status (metav1.Condition, keyed by type). */
export const CONDITION_ANNOUNCED = "vipd.io/Announced";
export const CONDITION_REASONS = {
  announced: "Announced",
  noEligibleNode: "NoEligibleNode",
} as const;

export const DEFAULT_LOAD_BALANCER_CLASS = "vipd.io/l2";
export const LABEL_EXCLUDE_FROM_LOAD_BALANCERS = "node.kubernetes.io/exclude-from-external-load-balancers";

export const EVENT_REASONS = {
  announced: "VIPAnnounced",
  withdrawn: "VIPWithdrawn",
  invalid: "InvalidVIP",
  conflict: "VIPConflict",
  noEligibleNode: "NoEligibleNode",
  noAddress: "NoAddress",
  poolExhausted: "PoolExhausted",
  /** BIRD refused the BGP config vipd rendered; it keeps running the one before. */
  bgpConfigRejected: "BGPConfigRejected",
  /** A VIPPool's spec.bgp cannot become a BGP export policy; the pool's routes go out without it. */
  bgpPolicyInvalid: "BGPPolicyInvalid",
  /** Addresses are routed (bgp, ecmp) but vipd lacks the BGP settings to have BIRD export them. */
  bgpSettingsMissing: "BGPSettingsMissing",
} as const;
