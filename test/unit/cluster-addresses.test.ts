import type { V1EndpointSlice, V1ServiceCIDR } from "@kubernetes/client-node";
import test from "ava";
import { apiServerAddresses, serviceCidrs } from "../../src/kube/cluster-addresses.ts";

function slice(addresses: string[][], addressType = "IPv4"): V1EndpointSlice {
  return {
    metadata: {
      name: "kubernetes",
      namespace: "default",
      labels: { "kubernetes.io/service-name": "kubernetes" },
    },
    addressType,
    endpoints: addresses.map((each) => ({ addresses: each, conditions: { ready: false } })),
  };
}

const KUBECONFIG = "the server of the agent's kubeconfig";
const ENDPOINT = "an endpoint of default/kubernetes";
const CLUSTER_IP = "the ClusterIP of default/kubernetes";

const table: [string, Parameters<typeof apiServerAddresses>[0], [string, string][]][] = [
  [
    "an IP literal in the kubeconfig",
    { kubeconfigServer: "https://203.0.113.1:6443", kubernetesSlices: [], kubernetesService: undefined },
    [["203.0.113.1", KUBECONFIG]],
  ],
  [
    "an IPv6 literal, in canonical form",
    { kubeconfigServer: "https://[2001:DB8:0::1]:6443", kubernetesSlices: [], kubernetesService: undefined },
    [["2001:db8::1", KUBECONFIG]],
  ],
  [
    "a host name is not resolved",
    { kubeconfigServer: "https://api.example.test:6443", kubernetesSlices: [], kubernetesService: undefined },
    [],
  ],
  [
    "no kubeconfig server",
    { kubeconfigServer: undefined, kubernetesSlices: [], kubernetesService: undefined },
    [],
  ],
  [
    "every endpoint of default/kubernetes, ready or not, both families",
    {
      kubeconfigServer: undefined,
      kubernetesSlices: [slice([["203.0.113.11"], ["203.0.113.12"]]), slice([["2001:db8:0:0::11"]], "IPv6")],
      kubernetesService: undefined,
    },
    [
      ["203.0.113.11", ENDPOINT],
      ["203.0.113.12", ENDPOINT],
      ["2001:db8::11", ENDPOINT],
    ],
  ],
  [
    "the ClusterIPs of default/kubernetes; the first source of an address is the one named",
    {
      kubeconfigServer: "https://192.0.2.1",
      kubernetesSlices: [],
      kubernetesService: { spec: { clusterIPs: ["192.0.2.1", "2001:db8:ffff::1"] } },
    },
    [
      ["192.0.2.1", KUBECONFIG],
      ["2001:db8:ffff::1", CLUSTER_IP],
    ],
  ],
];

for (const [what, sources, expected] of table) {
  test(`API server addresses: ${what}`, (t) => {
    t.deepEqual([...apiServerAddresses(sources)], expected);
  });
}

test("Service CIDRs: every CIDR of every object, named; nothing unparsable", (t) => {
  const objects: V1ServiceCIDR[] = [
    { metadata: { name: "kubernetes" }, spec: { cidrs: ["192.0.2.0/24", "2001:db8:ffff::/112"] } },
    { metadata: { name: "extra", deletionTimestamp: new Date(0) }, spec: { cidrs: ["198.51.100.192/26"] } },
    { metadata: { name: "broken" }, spec: { cidrs: ["not a cidr"] } },
    { metadata: { name: "empty" } },
  ];
  t.deepEqual(serviceCidrs(objects), [
    { cidr: "192.0.2.0/24", name: "kubernetes" },
    { cidr: "2001:db8:ffff::/112", name: "kubernetes" },
    { cidr: "198.51.100.192/26", name: "extra" },
  ]);
});
