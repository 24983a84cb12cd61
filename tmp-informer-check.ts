import { KubeConfig } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { startApiServer } from "./lab/apiserver.ts";
import { installCrds } from "./lab/agents.ts";
import { createAgentInformers } from "./src/kube/informers.ts";
import { systemClock } from "./src/clock/clock.ts";
const api = await startApiServer({});
try {
  await installCrds((args, input) => api.kubectl(args, { input }).then((r) => r.stdout));
  const rbac = readFileSync("manifests/rbac.yaml", "utf8");
  console.log((await api.kubectl(["apply", "-f", "-"], { input: rbac })).code);
  const path = await api.serviceAccountKubeconfig({ namespace: "vipd-system", name: "vipd" });
  const kc = new KubeConfig(); kc.loadFromFile(path);
  const informers = createAgentInformers({ kubeConfig: kc, namespace: "vipd-system", listTimeoutMs: 10000, clock: systemClock,
    onFailure: (f) => console.log("failure", f.kind, String(f.error)), onRecovered: () => {}, onError: (m) => console.log(m) });
  for (const name of ["kubeVipConfig", "namespaces", "vipPools"] as const) {
    const inf = informers[name];
    const t0 = Date.now();
    await Promise.race([inf.start(), new Promise((r) => setTimeout(r, 10000))]);
    console.log(name, "start returned after", Date.now() - t0, "synced", inf.synced);
    await inf.stop();
  }
} finally { await api.stop(); }
