// `vipd run` refuses bad configuration at start-up with exit status 2 and a message naming the
// problem, before it touches the API server or any address. It runs inside a lab node namespace so
// that a case that wrongly got through could not change the machine's own network.
import test from "ava";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { vipdProgram } from "../../lab/agents.ts";
import { up, type Lab } from "../../lab/index.ts";

const VIPD = vipdProgram();
let lab: Lab;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 1 });
});

test.after.always(async () => {
  await lab.down();
});

const CASES: { name: string; args: string[]; env?: Record<string, string>; stderr: RegExp }[] = [
  {
    name: "no node name",
    args: [],
    stderr: /--node-name \(VIPD_NODE_NAME\): is required/,
  },
  {
    name: "an unknown flag",
    args: ["--node-name=node1", "--lease-time=5s"],
    stderr: /unknown option '--lease-time/,
  },
  {
    name: "an unknown VIPD_ variable",
    args: ["--node-name=node1"],
    env: { VIPD_LEASE_TIME: "5s" },
    stderr: /VIPD_LEASE_TIME: unknown variable/,
  },
  {
    name: "timings out of order",
    args: ["--node-name=node1", "--lease-duration=2s"],
    stderr: /--lease-duration \(VIPD_LEASE_DURATION\): must be longer than --renew-deadline/,
  },
  {
    name: "a duration that is not one",
    args: ["--node-name=node1", "--retry-period=soon"],
    stderr: /--retry-period \(VIPD_RETRY_PERIOD\): "soon" is not a duration/,
  },
  {
    name: "an interface the node does not have",
    args: ["--node-name=node1", "--interface=eth9", "--kubeconfig=/dev/null"],
    stderr: /--interface eth9: no such interface on this node/,
  },
  {
    name: "a kubeconfig that does not exist",
    args: ["--node-name=node1", `--kubeconfig=${join(tmpdir(), "vipd-no-such-kubeconfig")}`],
    stderr: /cannot load the kubeconfig/,
  },
  {
    name: "no kubeconfig outside a cluster",
    args: ["--node-name=node1"],
    stderr:
      /cannot load the kubeconfig: no --kubeconfig given and not inside a cluster \(missing KUBERNETES_SERVICE_HOST/,
  },
];

/**
 * The node's addresses, without the flags and lifetimes the kernel changes on its own (DAD) and
 * without the link-local ones it adds when a link comes up; vipd adds neither.
 */
async function addresses(netns: string): Promise<string[]> {
  const links = JSON.parse((await lab.exec(netns, ["ip", "-j", "addr", "show"])).stdout) as {
    ifname: string;
    addr_info: { local: string; prefixlen: number; scope: string }[];
  }[];
  return links
    .flatMap((link) =>
      link.addr_info
        .filter((info) => info.scope !== "link")
        .map((info) => `${link.ifname} ${info.local}/${info.prefixlen}`),
    )
    .sort();
}

for (const each of CASES) {
  test(`exit 2 with a message: ${each.name}`, async (t) => {
    const [node] = lab.nodes;
    if (node === undefined) throw new Error("the lab has no node");
    const before = await addresses(node.netns);
    const env = Object.entries(each.env ?? {}).map(([key, value]) => `${key}=${value}`);
    const result = await lab.exec(
      node.netns,
      [
        "env",
        "-u",
        "KUBERNETES_SERVICE_HOST",
        "-u",
        "KUBERNETES_SERVICE_PORT",
        ...env,
        process.execPath,
        VIPD,
        "run",
        ...each.args,
      ],
      {
        allowFailure: true,
      },
    );
    t.is(result.code, 2, result.stderr);
    t.regex(result.stderr, each.stderr);
    t.deepEqual(await addresses(node.netns), before, "no address changed");
  });
}
