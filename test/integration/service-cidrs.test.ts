// The Service CIDR input against a real API server: discovery says it serves networking.k8s.io/v1
// ServiceCIDRs, and the informer reads the default object, which carries --service-cluster-ip-range.
// (An API server that does not serve them cannot be had here: kube-apiserver 1.37 does not become
// ready with the API turned off, as its own ClusterIP allocator needs it.)
import test from "ava";
import { KubeConfig, type V1ServiceCIDR } from "@kubernetes/client-node";
import { systemClock } from "../../src/clock/clock.ts";
import { serviceCidrs } from "../../src/kube/cluster-addresses.ts";
import { createAgentInformers, servesServiceCidrs } from "../../src/kube/informers.ts";
import { startApiServer } from "../../lab/apiserver.ts";

test.before(() => {
  if (process.getuid?.() !== 0) throw new Error("these tests need root");
});

function kubeConfigOf(path: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return kubeConfig;
}

test.serial(
  "an API server that serves ServiceCIDRs: discovery says so, and the informer lists them",
  async (t) => {
    const api = await startApiServer();
    try {
      const kubeConfig = kubeConfigOf(api.kubeconfigPath);
      t.true(await servesServiceCidrs(kubeConfig, 10_000));
      const errors: string[] = [];
      const { serviceCidrs: informer } = createAgentInformers({
        kubeConfig,
        namespace: "vipd-system",
        listTimeoutMs: 10_000,
        clock: systemClock,
        onError: (message) => errors.push(message),
        onFailure: (failure) => errors.push(`${failure.kind}: ${String(failure.error)}`),
        onWatchFailed: (failure) => errors.push(`watch of ${failure.resource}: ${failure.failure}`),
        onRecovered: () => undefined,
      });
      await informer.start();
      try {
        t.true(informer.synced, errors.join("\n"));
        t.deepEqual(serviceCidrs(informer.list() as V1ServiceCIDR[]), [
          { cidr: "192.0.2.0/24", name: "kubernetes" },
          { cidr: "2001:db8:ffff::/112", name: "kubernetes" },
        ]);
      } finally {
        await informer.stop();
      }
    } finally {
      await api.stop();
    }
  },
);
