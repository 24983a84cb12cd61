// How a Service's addresses reach the network (issue 16): `l2`, one elected holder answering ARP and
// NDP on the nodes' segment; `bgp`, one elected holder whose host route a routing daemon exports to
// its peers; `ecmp`, every eligible node's host route exported at once, the routers spreading flows
// over them. The two routed modes put the address on lo, where no neighbour asks for it.
export const ANNOUNCEMENT_MODES = ["l2", "bgp", "ecmp"] as const;

export type AnnouncementMode = (typeof ANNOUNCEMENT_MODES)[number];

/** The address is attracted by a route, not by answering on the segment. */
export function isRouted(mode: AnnouncementMode): boolean {
  return mode !== "l2";
}

/** One node holds the address at a time, through its ownership Lease. */
export function isElected(mode: AnnouncementMode): boolean {
  return mode !== "ecmp";
}
