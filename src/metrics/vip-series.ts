// The series of vipd_vip_announced and vipd_vip_desired: one per address and Service, so that the
// two can be joined on (namespace, service, address) in a query. An address shared by several
// Services is one series for each of them on both sides.
import type { ServiceRef } from "../kube/service-ref.ts";
import type { AnnouncedVip, DesiredVip } from "./metrics.ts";

export interface HeldAddress {
  readonly mode: AnnouncedVip["mode"];
  readonly interfaceName: string;
  /** The Service it was installed for, if any: who it serves when nothing else says. */
  readonly service: ServiceRef | null;
}

/** The Services an address serves now, from the mode's index of Services sharing it. */
export type ServicesOf = (address: string) => readonly ServiceRef[];

export function announcedVips(
  held: ReadonlyMap<string, HeldAddress>,
  servicesOf: ServicesOf,
): AnnouncedVip[] {
  return [...held].flatMap(([address, holding]) => {
    const sharing = servicesOf(address);
    const services = sharing.length > 0 ? sharing : holding.service === null ? [] : [holding.service];
    // Held for no Service any more (on its way off the wire): it is still on the interface.
    const shown = services.length === 0 ? [{ namespace: "", name: "" }] : services;
    return shown.map((service) => ({
      namespace: service.namespace,
      service: service.name,
      address,
      interfaceName: holding.interfaceName,
      mode: holding.mode,
    }));
  });
}

/** The addresses asked for that vipd would serve (those with a demand), once per Service. */
export function desiredVips(
  addresses: readonly string[],
  demand: (address: string) => ServiceRef | null,
  servicesOf: ServicesOf,
): DesiredVip[] {
  return addresses.flatMap((address) => {
    const asking = demand(address);
    if (asking === null) return [];
    const sharing = servicesOf(address);
    return (sharing.length > 0 ? sharing : [asking]).map((service) => ({
      namespace: service.namespace,
      service: service.name,
      address,
    }));
  });
}
