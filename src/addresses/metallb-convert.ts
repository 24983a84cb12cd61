/**
 * MetalLB's objects (metallb.io) as VIPPools, for `vipd convert metallb`. An IPAddressPool
 * (metallb.io/v1beta1) becomes the VIPPool of the same name, field for field: spec.addresses (CIDRs
 * and "first-last" ranges, with MetalLB's spaces around the dash trimmed and a CIDR's host bits
 * masked, as MetalLB reads them), autoAssign, avoidBuggyIPs and serviceAllocation (priority,
 * namespaces, namespaceSelectors, serviceSelectors). Keeping the name keeps every Service's
 * metallb.io/address-pool annotation pointing at its pool, since vipd reads it as vipd.io/pool. A pool
 * with a field or an address vipd cannot read is left out whole (with a problem): a pool with part of
 * its addresses would change the plan silently. The other kinds say what vipd does instead.
 */
import type { V1LabelSelector } from "@kubernetes/client-node";
import { formatCidrOrRange, formatFirstLast, parseNetipPrefix, parseNetipRange } from "./ranges.ts";
import type { VipPoolServiceAllocation, VipPoolSpec } from "./api.ts";
import { admitted, vipPool, type VipPoolConversion } from "./conversion.ts";

const METALLB_GROUP = "metallb.io";
const POOL_API_VERSION = `${METALLB_GROUP}/v1beta1`;

/** What vipd does in place of each MetalLB kind that is no pool. */
const INSTEAD: Readonly<Record<string, string>> = {
  L2Advertisement:
    "vipd announces every pool's addresses from the node elected for each address, with gratuitous ARP and unsolicited neighbour advertisements; its nodeSelectors are the DaemonSet's (vipd manifest daemonset --node-selector), its interfaces are --interface (or the vipd.io/interface annotation)",
  BGPAdvertisement:
    "set spec.mode bgp (or ecmp) and spec.bgp (communities, localPreference) on the VIPPools it advertises; vipd announces host routes only, with no aggregationLength (docs/bgp.md)",
  BGPPeer:
    "name the peers with the agents' --bgp-peers (address:AS:password:multihop:port), --bgp-hold-time and --bgp-keepalive-time; a BIRD beside each agent speaks BGP for vipd (docs/bgp.md)",
  BFDProfile:
    "set the agents' --bgp-bfd true, --bgp-bfd-interval and --bgp-bfd-multiplier: vipd has one BFD profile for all peers",
  Community: "write the communities themselves into the VIPPools' spec.bgp.communities",
  ServiceL2Status:
    "MetalLB's status object; vipd writes the holder to the Service's vipd.io/holder annotation",
  ServiceBGPStatus: "MetalLB's status object; vipd has no such object",
};

type Fields = Readonly<Record<string, unknown>>;

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function describe(document: Fields): string {
  const metadata = isFields(document["metadata"]) ? document["metadata"] : {};
  const name = typeof metadata["name"] === "string" ? metadata["name"] : "(no name)";
  const namespace = typeof metadata["namespace"] === "string" ? `${metadata["namespace"]}/` : "";
  return `${String(document["kind"])} ${namespace}${name}`;
}

/** An address entry as MetalLB reads it, in vipd's spelling; undefined when it is none. */
function address(entry: string): string | undefined {
  const text = entry.trim();
  if (text.includes("/")) {
    const cidr = parseNetipPrefix(text);
    return cidr === undefined ? undefined : formatCidrOrRange(cidr.range);
  }
  const range = parseNetipRange(
    text
      .split("-")
      .map((end) => end.trim())
      .join("-"),
  );
  return range === undefined || range === "empty" ? undefined : formatFirstLast(range);
}

function serviceAllocation(value: unknown, problems: string[]): VipPoolServiceAllocation | undefined {
  if (!isFields(value)) {
    problems.push("spec.serviceAllocation is no object");
    return undefined;
  }
  const { priority, namespaces, namespaceSelectors, serviceSelectors, ...rest } = value;
  for (const field of Object.keys(rest)) problems.push(`spec.serviceAllocation.${field} is no MetalLB field`);
  if (priority !== undefined && !Number.isInteger(priority))
    problems.push("spec.serviceAllocation.priority is no integer");
  if (namespaces !== undefined && !isStringList(namespaces))
    problems.push("spec.serviceAllocation.namespaces is no list of names");
  for (const [field, selectors] of Object.entries({ namespaceSelectors, serviceSelectors }))
    if (selectors !== undefined && !(Array.isArray(selectors) && selectors.every(isFields)))
      problems.push(`spec.serviceAllocation.${field} is no list of label selectors`);
  return {
    ...(typeof priority === "number" ? { priority } : {}),
    ...(isStringList(namespaces) ? { namespaces } : {}),
    ...(Array.isArray(namespaceSelectors)
      ? { namespaceSelectors: namespaceSelectors as V1LabelSelector[] }
      : {}),
    ...(Array.isArray(serviceSelectors) ? { serviceSelectors: serviceSelectors as V1LabelSelector[] } : {}),
  };
}

/** An IPAddressPool's spec as a VIPPool's, or the reasons it cannot be one. */
function poolSpec(spec: unknown): { spec: VipPoolSpec } | { problems: string[] } {
  if (!isFields(spec)) return { problems: ["it has no spec"] };
  const problems: string[] = [];
  const { addresses, autoAssign, avoidBuggyIPs, serviceAllocation: allocation, ...rest } = spec;
  for (const field of Object.keys(rest)) problems.push(`spec.${field} is no IPAddressPool field vipd knows`);
  const converted: string[] = [];
  if (!isStringList(addresses) || addresses.length === 0)
    problems.push("spec.addresses is no list of CIDRs and ranges");
  else
    for (const entry of addresses) {
      const text = address(entry);
      if (text === undefined) problems.push(`"${entry}" is no CIDR and no range first-last of one family`);
      else converted.push(text);
    }
  for (const [field, flag] of Object.entries({ autoAssign, avoidBuggyIPs }))
    if (flag !== undefined && typeof flag !== "boolean") problems.push(`spec.${field} is no boolean`);
  const allocationSpec = allocation === undefined ? undefined : serviceAllocation(allocation, problems);
  if (problems.length > 0) return { problems };
  return {
    spec: {
      addresses: converted,
      ...(typeof autoAssign === "boolean" ? { autoAssign } : {}),
      ...(typeof avoidBuggyIPs === "boolean" ? { avoidBuggyIPs } : {}),
      ...(allocationSpec === undefined ? {} : { serviceAllocation: allocationSpec }),
    },
  };
}

/** The parsed YAML documents of a MetalLB configuration (List objects are opened) as VIPPools. */
export function vipPoolsFromMetallb(documents: readonly unknown[]): VipPoolConversion {
  const conversion: VipPoolConversion = { pools: [], problems: [], notes: [] };
  const names = new Set<string>();
  const visit = (document: unknown): void => {
    if (document === null || document === undefined) return;
    if (!isFields(document)) {
      conversion.problems.push("a document is no Kubernetes object; left out");
      return;
    }
    const kind = document["kind"];
    const apiVersion = document["apiVersion"];
    if (kind === "List" && Array.isArray(document["items"])) {
      for (const item of document["items"]) visit(item);
      return;
    }
    if (typeof apiVersion !== "string" || !apiVersion.startsWith(`${METALLB_GROUP}/`)) {
      const legacy = kind === "ConfigMap" && isFields(document["data"]) && "config" in document["data"];
      conversion.problems.push(
        legacy
          ? `${describe(document)}: MetalLB's ConfigMap configuration (before 0.13) is not read; convert it to IPAddressPools first (MetalLB's configmaptocrs)`
          : `${describe(document)}: no MetalLB object; left out`,
      );
      return;
    }
    if (kind !== "IPAddressPool") {
      const instead = typeof kind === "string" ? INSTEAD[kind] : undefined;
      const message = `${describe(document)}: not converted; ${instead ?? "no MetalLB kind vipd knows"}`;
      if (kind === "L2Advertisement" || kind === "ServiceL2Status") conversion.notes.push(message);
      else conversion.problems.push(message);
      return;
    }
    if (apiVersion !== POOL_API_VERSION) {
      conversion.problems.push(`${describe(document)}: ${apiVersion} is not ${POOL_API_VERSION}; left out`);
      return;
    }
    const metadata = isFields(document["metadata"]) ? document["metadata"] : {};
    const name = metadata["name"];
    if (typeof name !== "string" || name === "") {
      conversion.problems.push(`${describe(document)}: it has no name; left out`);
      return;
    }
    if (names.has(name)) {
      conversion.problems.push(
        `${describe(document)}: a pool named ${name} came first (VIPPools are cluster-scoped); left out`,
      );
      return;
    }
    const result = poolSpec(document["spec"]);
    if ("problems" in result) {
      for (const problem of result.problems)
        conversion.problems.push(`${describe(document)}: ${problem}; left out`);
      return;
    }
    names.add(name);
    conversion.pools.push(vipPool(name, result.spec));
  };
  for (const document of documents) visit(document);
  const pools = admitted(conversion.pools, conversion.problems);
  if (pools.length > 0)
    conversion.notes.push(
      "Services keep their MetalLB annotations: vipd reads metallb.io/address-pool as vipd.io/pool (the pools keep their names), metallb.io/allow-shared-ip as vipd.io/allow-shared-ip and metallb.io/loadBalancerIPs as vipd.io/loadBalancerIPs",
    );
  return { ...conversion, pools };
}
