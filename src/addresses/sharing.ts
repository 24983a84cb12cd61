// Which Services may share one address, as MetalLB decides it: they carry the same sharing key
// (vipd.io/allow-shared-ip, or MetalLB's metallb.io/allow-shared-ip; a kube-vip pool with
// allow-share gives its Services one key), no protocol and port is used by two of them (TCP 53 and
// UDP 53 do not clash), and, where either sends traffic only to local endpoints
// (externalTrafficPolicy: Local), both do and select the same pods, so that the one node answering
// for the address has an endpoint of each. Services on one address are served by one node: the
// address's election moves them together.
import { ANNOTATION_METALLB_SHARED_IP, ANNOTATION_SHARED_IP } from "../kube/names.ts";

/** The parts of a Service sharing reads; a V1Service fits. */
export interface SharingShape {
  readonly metadata?: {
    readonly namespace?: string;
    readonly name?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly ports?: readonly { readonly port?: number; readonly protocol?: string }[];
    readonly externalTrafficPolicy?: string;
    readonly selector?: Readonly<Record<string, string>>;
  };
}

/** The Service's sharing key; undefined when it shares with nobody. */
export function sharingKeyOf(
  service: SharingShape,
  poolAllowsSharing: string | undefined,
): string | undefined {
  const annotations = service.metadata?.annotations ?? {};
  for (const key of [ANNOTATION_SHARED_IP, ANNOTATION_METALLB_SHARED_IP]) {
    const value = annotations[key]?.trim();
    if (value !== undefined && value !== "") return value;
  }
  return poolAllowsSharing;
}

function nameOf(service: SharingShape): string {
  return `${service.metadata?.namespace ?? ""}/${service.metadata?.name ?? ""}`;
}

function sameSelector(a: SharingShape, b: SharingShape): boolean {
  const left = Object.entries(a.spec?.selector ?? {}).sort();
  const right = Object.entries(b.spec?.selector ?? {}).sort();
  return left.length > 0 && JSON.stringify(left) === JSON.stringify(right);
}

/**
 * Why the Service may not share an address with the other one, as a sentence naming the other
 * Service (and the port they both use); null when it may.
 */
export function sharingProblem(
  service: SharingShape,
  key: string | undefined,
  other: SharingShape,
  otherKey: string | undefined,
): string | null {
  const them = nameOf(other);
  if (key === undefined)
    return `it is used by the Service ${them}, and this Service has no sharing key (vipd.io/allow-shared-ip)`;
  if (key !== otherKey)
    return `it is used by the Service ${them}, whose sharing key is ${otherKey === undefined ? "unset" : `"${otherKey}"`}, not "${key}"`;
  for (const port of service.spec?.ports ?? []) {
    const protocol = port.protocol ?? "TCP";
    if (
      (other.spec?.ports ?? []).some(
        (each) => each.port === port.port && (each.protocol ?? "TCP") === protocol,
      )
    )
      return `it is used by the Service ${them}, which uses ${protocol} port ${String(port.port)} too`;
  }
  const local = service.spec?.externalTrafficPolicy === "Local";
  const otherLocal = other.spec?.externalTrafficPolicy === "Local";
  if ((local || otherLocal) && !(local && otherLocal && sameSelector(service, other)))
    return `it is used by the Service ${them}; with externalTrafficPolicy: Local, Services share an address only if both are Local and select the same pods`;
  return null;
}
