import { CoreV1Api } from "@kubernetes/client-node";
import test from "ava";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { FailedRequest } from "../../src/kube/api-requests.ts";
import { PooledKubeConfig } from "../../src/kube/kube-config.ts";

const cluster = { name: "lab", server: "https://198.51.100.1:6443", skipTLSVerify: false };

test("API connections offer only HTTP/1.1 in ALPN, with client-node's TLS and keep-alive intact", (t) => {
  const options = new PooledKubeConfig({ onFailedRequest: () => undefined }).createDispatcherOptions(
    cluster,
    { ca: "CA" },
  );
  if (options.type !== "agent") return t.fail(`dispatcher type ${options.type}`);
  t.like(options.connect, { ca: "CA", keepAlive: true, allowH2: false });
});

test("through an HTTP proxy too", (t) => {
  const options = new PooledKubeConfig({ onFailedRequest: () => undefined }).createDispatcherOptions(
    { ...cluster, proxyUrl: "http://203.0.113.5:3128" },
    { ca: "CA" },
  );
  if (options.type !== "proxy") return t.fail(`dispatcher type ${options.type}`);
  t.like(options.connect, { allowH2: false });
});

test("without TLS options there is no dispatcher of client-node's to change", (t) => {
  t.deepEqual(
    new PooledKubeConfig({ onFailedRequest: () => undefined }).createDispatcherOptions(cluster, {}),
    { type: "none" },
  );
});

test("every API client made from it reports each failed request: refused answers and no answer", async (t) => {
  const server = createServer((_request, response) => {
    response.writeHead(503, { "content-type": "application/json" }).end('{"kind":"Status","code":503}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const failed: FailedRequest[] = [];
  const kubeConfig = new PooledKubeConfig({ onFailedRequest: (each) => failed.push(each) });
  kubeConfig.loadFromOptions({
    clusters: [{ name: "local", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "nobody" }],
    contexts: [{ name: "local", cluster: "local", user: "nobody" }],
    currentContext: "local",
  });
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await t.throwsAsync(core.listNode());
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  await t.throwsAsync(core.readNamespacedService({ namespace: "web", name: "front" }));
  t.deepEqual(failed, [
    { operation: "list", resource: "nodes", failure: "unreachable" },
    { operation: "get", resource: "services", failure: "unreachable" },
  ]);
});
