// `vipd manifest` as a user runs it: the printed YAML is the checked-in manifests/ byte for byte, flags
// reach the objects, and anything it does not know is an error with exit status 2.
import test from "ava";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadAll } from "js-yaml";

const root = path.resolve(import.meta.dirname, "../..");

function vipd(...args: string[]) {
  const result = spawnSync(process.execPath, [path.join(root, "cmd/vipd.ts"), ...args], {
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "" },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("vipd manifest pod --control-plane --vip 192.0.2.10 prints manifests/control-plane-pod.yaml", (t) => {
  const printed = vipd("manifest", "pod", "--control-plane", "--vip", "192.0.2.10");
  t.is(printed.code, 0, printed.stderr);
  t.is(printed.stdout, readFileSync(path.join(root, "manifests", "control-plane-pod.yaml"), "utf8"));
});

for (const subcommand of ["crds", "rbac", "daemonset"]) {
  test(`vipd manifest ${subcommand} prints manifests/${subcommand}.yaml`, (t) => {
    const printed = vipd("manifest", subcommand);
    t.is(printed.code, 0, printed.stderr);
    t.is(printed.stdout, readFileSync(path.join(root, "manifests", `${subcommand}.yaml`), "utf8"));
  });
}

test("flags reach the printed objects", (t) => {
  const printed = vipd(
    "manifest",
    "daemonset",
    "--namespace=lb",
    "--image",
    "registry.example/vipd:1",
    "--interface",
    "eth1",
    "--class-only",
    "--metrics-addr",
    ":9660",
    "--node-selector",
    "kubernetes.io/os=linux",
    "--node-selector",
    "node-role.kubernetes.io/edge=",
    "--toleration",
    "dedicated=edge:NoSchedule",
    "--control-plane-nodes",
    "false",
    "--priority-class-name",
    "vipd-critical",
    "--set-agent",
    "announce-count=5",
    "--set-agent",
    "--log-format=text",
  );
  t.is(printed.code, 0, printed.stderr);
  const [daemon] = loadAll(printed.stdout) as [
    {
      metadata: { namespace: string };
      spec: { template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } };
    },
  ];
  const pod = daemon.spec.template.spec;
  t.is(daemon.metadata.namespace, "lb");
  t.deepEqual(pod["nodeSelector"], { "kubernetes.io/os": "linux", "node-role.kubernetes.io/edge": "" });
  t.deepEqual(pod["tolerations"], [
    { key: "dedicated", operator: "Equal", value: "edge", effect: "NoSchedule" },
  ]);
  t.is(pod.containers[0]?.["image"], "registry.example/vipd:1");
  t.is(pod["priorityClassName"], "vipd-critical");
  const env = pod.containers[0]?.["env"] as { name: string; value?: string }[];
  t.deepEqual(env.slice(2), [
    { name: "VIPD_ADDRESS_LIFETIME", value: "30s" },
    { name: "VIPD_ANNOUNCE_COUNT", value: "5" },
    { name: "VIPD_CLASS_ONLY", value: "true" },
    { name: "VIPD_INTERFACE", value: "eth1" },
    { name: "VIPD_LEASE_DURATION", value: "5s" },
    { name: "VIPD_LOAD_BALANCER_CLASS", value: "vipd.io/l2" },
    { name: "VIPD_LOG_FORMAT", value: "text" },
    { name: "VIPD_METRICS_ADDR", value: ":9660" },
    { name: "VIPD_RENEW_DEADLINE", value: "3s" },
    { name: "VIPD_RETRY_PERIOD", value: "1s" },
  ]);
  t.deepEqual(pod.containers[0]?.["ports"], [{ name: "metrics", containerPort: 9660, protocol: "TCP" }]);
});

test("--bgp adds the BIRD sidecar, and --announce-mode reaches the agent", (t) => {
  const printed = vipd("manifest", "daemonset", "--bgp", "--announce-mode", "l2");
  t.is(printed.code, 0, printed.stderr);
  const [daemon] = loadAll(printed.stdout) as [
    {
      spec: {
        template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } };
      };
    },
  ];
  const [agent, bird] = daemon.spec.template.spec.containers;
  t.is(bird?.name, "bird");
  const env = new Map((agent?.env ?? []).map((variable) => [variable.name, variable.value]));
  t.is(env.get("VIPD_ANNOUNCE_MODE"), "l2");
  t.is(env.get("VIPD_BGP_SPEAKER"), "bird");
  t.is(env.get("VIPD_BIRD_SOCKET"), "/run/bird/bird.ctl");
  t.is(env.get("VIPD_BIRD_CONFIG"), "/run/bird/bird.conf");
});

const refused: [string[], RegExp][] = [
  [["manifest", "daemonset", "--no-such-flag"], /unknown option '--no-such-flag'/],
  [["manifest", "rbac", "--image", "x"], /unknown option '--image'/],
  [["manifest", "daemonset", "extra"], /too many arguments/],
  [["manifest", "pods"], /unknown command 'pods'/],
  [
    ["manifest", "pod", "--vip", "192.0.2.10"],
    /--control-plane: vipd manifest pod prints control-plane mode's/,
  ],
  [["manifest", "pod", "--control-plane"], /--vip: the VIP of the API server is required/],
  [
    ["manifest", "pod", "--control-plane", "--vip", "192.0.2.10,192.0.2.11"],
    /--vip \(VIPD_VIP\): more than one IPv4 address/,
  ],
  [
    ["manifest", "pod", "--control-plane", "--vip", "192.0.2.10", "--health-url", "localhost:6443"],
    /--health-url \(VIPD_HEALTH_URL\)/,
  ],
  [
    ["manifest", "pod", "--control-plane", "--vip", "192.0.2.10", "--class-only"],
    /unknown option '--class-only'/,
  ],
  [
    ["manifest", "daemonset", "--lease-duration", "2s"],
    /--lease-duration \(VIPD_LEASE_DURATION\): must be longer than --renew-deadline/,
  ],
  [["manifest", "daemonset", "--toleration", "k:Never"], /--toleration "k:Never"/],
  [["manifest", "daemonset", "--node-selector", "linux"], /--node-selector "linux"/],
  [
    ["manifest", "daemonset", "--set-agent", "lease-duration=9s"],
    /--set-agent lease-duration: use --lease-duration/,
  ],
  [
    ["manifest", "daemonset", "--set-agent", "announce-cuont=5"],
    /--set-agent announce-cuont: not a setting of vipd run/,
  ],
  [["manifest", "daemonset", "--set-agent", "announce-count=x"], /--announce-count \(VIPD_ANNOUNCE_COUNT\)/],
  [
    ["manifest", "daemonset", "--control-plane-nodes", "maybe"],
    /--control-plane-nodes "maybe": expected true or false/,
  ],
  [
    ["manifest", "daemonset", "--bgp", "--set-agent", "bird-socket=/tmp/bird.ctl"],
    /--set-agent bird-socket: with --bgp the DaemonSet sets it itself/,
  ],
  [["manifest", "daemonset", "--announce-mode", "anycast"], /--announce-mode \(VIPD_ANNOUNCE_MODE\)/],
  [
    ["manifest", "daemonset", "--metrics-addr", "127.0.0.1:9560"],
    /port 9560 is the control-plane static pod's/,
  ],
];
for (const [args, message] of refused) {
  test(`vipd ${args.join(" ")}: exit status 2, nothing printed`, (t) => {
    const result = vipd(...args);
    t.is(result.code, 2);
    t.regex(result.stderr, message);
    t.is(result.stdout, "");
  });
}
