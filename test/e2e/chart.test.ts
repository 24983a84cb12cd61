// The chart in the lab: helm installs charts/vipd into the lab's API server (lab/chart.ts), the lab's
// agents run with a token of the ServiceAccount the chart made, bound only by the chart's RBAC, and
// serve a LoadBalancer Service: the VIP answers from the node holding its Lease, and its status is
// written. A verb the chart's RBAC lacks fails here.
import test from "ava";
import { loadBalancerService, prepareCluster, type Cluster } from "../../lab/agents.ts";
import { chartRbacKubeconfig } from "../../lab/chart.ts";
import { up, type Lab, type LabProcess } from "../../lab/index.ts";
import { readFileSync } from "node:fs";

let lab: Lab;
let cluster: Cluster;
let agents: Map<string, LabProcess>;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 2, apiServer: true });
  cluster = await prepareCluster(lab, { kubeconfig: chartRbacKubeconfig });
  agents = cluster.startAgents();
});

test.after.always(async () => {
  await lab.down();
});

function tokenSubject(kubeconfigPath: string): string {
  // lab/apiserver.ts writes kubeconfigs as JSON.
  const config = JSON.parse(readFileSync(kubeconfigPath, "utf8")) as {
    users: { user: { token?: string } }[];
  };
  const token = config.users[0]?.user.token ?? "";
  const payload = token.split(".")[1] ?? "";
  return (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { sub?: string }).sub ?? "";
}

test.serial("agents running as the chart's ServiceAccount serve a LoadBalancer Service", async (t) => {
  t.is(tokenSubject(cluster.agentKubeconfig), "system:serviceaccount:vipd-system:vipd");
  const account = JSON.parse(
    await cluster.kubectl(["get", "serviceaccount", "vipd", "-n", "vipd-system", "-o", "json"]),
  ) as { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } };
  t.is(account.metadata.labels?.["app.kubernetes.io/managed-by"], "Helm");
  t.is(account.metadata.annotations?.["meta.helm.sh/release-name"], "vipd");

  const vip = "198.51.100.220";
  await cluster.kubectl(["apply", "-f", "-"], loadBalancerService({ name: "charted", loadBalancerIP: vip }));
  const probe = await lab.probe({ target: vip, intervalMs: 10 });
  let answered: string;
  try {
    const sample = await probe.waitFor((each) => each.node !== null, 30_000);
    answered = sample.node ?? "";
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${cluster.agentLogs(agents.values(), 4000)}`, {
      cause: error,
    });
  } finally {
    await probe.stop();
  }
  t.true(
    lab.nodes.some((node) => node.name === answered),
    answered,
  );
  t.is(await cluster.leaseHolder({ name: "charted" }), answered);
  const ingress = await cluster.eventually(
    () =>
      cluster.kubectl(["get", "service", "charted", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"]),
    (shown) => shown !== "",
    { what: "the Service's status" },
  );
  t.is(ingress, vip);
});
