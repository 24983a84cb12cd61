// What control-plane mode serves and who may serve it, for the same address loops services mode
// runs: the configured VIPs under CONTROL_PLANE_REF instead of Services, control-plane nodes instead
// of rule 7's Service eligibility, and the local API server's health as this node's eligibility.
import type { V1Node } from "@kubernetes/client-node";
import type { Eligibility } from "../agent/eligibility.ts";
import type { AddressDemand, ServingTarget } from "../agent/address-reconciler.ts";
import type { Vip } from "../agent/service-intent.ts";
import { CONTROL_PLANE_REF } from "../election/lease-names.ts";
import type { EventSubject } from "../kube/events.ts";
import type { ServiceRef } from "../kube/service-ref.ts";
import type { AnnouncementMode } from "../routing/announcement-mode.ts";

export const LABEL_CONTROL_PLANE = "node-role.kubernetes.io/control-plane";

export interface ControlPlaneTargetOptions {
  readonly self: string;
  readonly vips: readonly Vip[];
  /** --announce-mode. */
  readonly mode: AnnouncementMode;
  /** This node's API server health (ApiServerHealth.state). */
  readonly health: () => Eligibility;
  readonly node: (name: string) => V1Node | undefined;
  /** Node addresses, canonical: the VIP must never be one of them. */
  readonly nodeAddresses: () => ReadonlySet<string>;
  /** Told once each time the reason the VIP cannot be served changes (there is no Service to tell). */
  readonly onInvalid: (problems: readonly string[]) => void;
}

/**
 * A node is a control-plane candidate unless its Node object says otherwise. A Node that does not
 * exist yet counts: with kubeadm the first control-plane node's kubelet registers its Node through
 * the control-plane endpoint, that is through this VIP, so requiring the Node first would deadlock.
 * kubeadm labels control-plane Nodes node.kubernetes.io/exclude-from-external-load-balancers too;
 * that label is about Services and is not read here.
 */
export function controlPlaneNode(node: V1Node | undefined): Eligibility {
  if (node === undefined || node.metadata?.labels?.[LABEL_CONTROL_PLANE] !== undefined)
    return { eligible: true };
  return {
    eligible: false,
    code: "not-control-plane",
    reason: `Node is not labelled ${LABEL_CONTROL_PLANE}`,
  };
}

export class ControlPlaneTarget implements ServingTarget {
  readonly #options: ControlPlaneTargetOptions;
  #reported = "";

  constructor(options: ControlPlaneTargetOptions) {
    this.#options = options;
  }

  /** The configured VIPs, each elected on its own address Lease. */
  addresses(): readonly string[] {
    return this.#options.vips.map((vip) => vip.address);
  }

  // Any other address (an ownership Lease of services mode's, left in this namespace by mistake) is
  // not this agent's to serve.
  demand(address: string): AddressDemand | null {
    const vip = this.#options.vips.find((each) => each.address === address);
    if (vip === undefined || this.#problems().length > 0) return null;
    return { vip, service: CONTROL_PLANE_REF, interfaceOverride: undefined, mode: this.#options.mode };
  }

  selfEligibility(): Eligibility {
    const node = controlPlaneNode(this.#options.node(this.#options.self));
    return node.eligible ? this.#options.health() : node;
  }

  // Other nodes' API servers are out of sight; a candidate whose API server is down cannot renew its
  // heartbeat through it either, so it drops out of the live nodes by itself.
  otherEligible(node: string): boolean {
    return controlPlaneNode(this.#options.node(node)).eligible;
  }

  // 0.1.0 held the control-plane VIPs on one Lease, vipd-control-plane.
  legacyServices(address: string): readonly ServiceRef[] {
    return this.#options.vips.some((vip) => vip.address === address) ? [CONTROL_PLANE_REF] : [];
  }

  eventSubject(): EventSubject {
    return nodeSubject(this.#options.self, this.#options.node(this.#options.self));
  }

  #problems(): string[] {
    const addresses = this.#options.nodeAddresses();
    const problems = this.#options.vips
      .filter((vip) => addresses.has(vip.address))
      .map((vip) => `--vip: ${vip.address} is a node address`);
    if (problems.join("\n") !== this.#reported) {
      this.#reported = problems.join("\n");
      if (problems.length > 0) this.#options.onInvalid(problems);
    }
    return problems;
  }
}

/**
 * Control-plane mode has no Service to describe, so its Events go on this node's Node object, in
 * the default namespace as kubelet's own do: `kubectl describe node` shows them. It finds a Node's
 * Events by the Node's uid or, as kubelet writes them, by its name in the uid field; the name
 * stands in only while the Node object is not seen (a first control-plane node registers its Node
 * through the VIP).
 */
export function nodeSubject(name: string, node: V1Node | undefined): EventSubject {
  return { namespace: "default", name, uid: node?.metadata?.uid ?? name };
}
