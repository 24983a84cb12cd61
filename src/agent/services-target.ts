// Services mode's ServingTarget: an address is asked for by the LoadBalancer Service that keeps it
// (vip-claims.ts), and rule 7 decides which nodes may carry it.
import type { V1EndpointSlice, V1Node, V1Service } from "@kubernetes/client-node";
import { serviceSubject, type EventSubject } from "../kube/events.ts";
import { parseServiceKey, type ServiceRef } from "../kube/service-ref.ts";
import type { AddressDemand, ServingTarget } from "./address-reconciler.ts";
import {
  hasReadyLocalEndpoint,
  nodeEligibility,
  serviceEligibility,
  type Eligibility,
} from "./eligibility.ts";
import type { ServiceIntent } from "./service-intent.ts";
import type { AnnouncementMode } from "../routing/announcement-mode.ts";

export interface ServicesTargetView {
  service(ref: ServiceRef): V1Service | undefined;
  node(name: string): V1Node | undefined;
  endpointSlices(ref: ServiceRef): readonly V1EndpointSlice[];
  /** The Service an address serves, or null (vip-claims.ts). */
  keeperOf(address: string): string | null;
  /** Every Service asking for the address, oldest first. */
  asking(address: string): readonly string[];
}

export interface ServicesTargetOptions {
  readonly node: string;
  readonly view: ServicesTargetView;
  readonly intentOf: (service: V1Service) => ServiceIntent;
  /** The address's VIPPool's mode, else the agent's --announce-mode. */
  readonly modeOf: (address: string) => AnnouncementMode;
}

export class ServicesTarget implements ServingTarget {
  readonly #options: ServicesTargetOptions;

  constructor(options: ServicesTargetOptions) {
    this.#options = options;
  }

  demand(address: string): AddressDemand | null {
    const { view, intentOf } = this.#options;
    const keeper = view.keeperOf(address);
    if (keeper === null) return null;
    const ref = parseServiceKey(keeper);
    const service = view.service(ref);
    const intent = service === undefined ? undefined : intentOf(service);
    const vip = intent?.serve === true ? intent.vips.find((each) => each.address === address) : undefined;
    if (intent?.serve !== true || vip === undefined) return null;
    return { vip, service: ref, interfaceOverride: intent.interface, mode: this.#options.modeOf(address) };
  }

  selfEligibility(ref: ServiceRef): Eligibility {
    const { node, view } = this.#options;
    return serviceEligibility({
      nodeName: node,
      node: view.node(node),
      externalTrafficPolicy: view.service(ref)?.spec?.externalTrafficPolicy,
      endpointSlices: view.endpointSlices(ref),
    });
  }

  otherEligible(node: string, ref: ServiceRef): boolean {
    const { view } = this.#options;
    if (!nodeEligibility(view.node(node)).eligible) return false;
    if (view.service(ref)?.spec?.externalTrafficPolicy !== "Local") return true;
    return hasReadyLocalEndpoint(view.endpointSlices(ref), node);
  }

  eventSubject(ref: ServiceRef): EventSubject | null {
    const service = this.#options.view.service(ref);
    return service === undefined ? null : serviceSubject(ref, service);
  }

  // Every Service asking for the address, not only the one keeping it: a 0.1.0 agent may see
  // another of them as the keeper, and it announces whichever one's Lease it holds.
  legacyServices(address: string): readonly ServiceRef[] {
    return this.#options.view.asking(address).map(parseServiceKey);
  }
}
