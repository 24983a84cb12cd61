import test from "ava";
import { PooledKubeConfig } from "../../src/kube/kube-config.ts";

const cluster = { name: "lab", server: "https://198.51.100.1:6443", skipTLSVerify: false };

test("API connections offer only HTTP/1.1 in ALPN, with client-node's TLS and keep-alive intact", (t) => {
  const options = new PooledKubeConfig().createDispatcherOptions(cluster, { ca: "CA" });
  if (options.type !== "agent") return t.fail(`dispatcher type ${options.type}`);
  t.like(options.connect, { ca: "CA", keepAlive: true, allowH2: false });
});

test("through an HTTP proxy too", (t) => {
  const options = new PooledKubeConfig().createDispatcherOptions(
    { ...cluster, proxyUrl: "http://203.0.113.5:3128" },
    { ca: "CA" },
  );
  if (options.type !== "proxy") return t.fail(`dispatcher type ${options.type}`);
  t.like(options.connect, { allowH2: false });
});

test("without TLS options there is no dispatcher of client-node's to change", (t) => {
  t.deepEqual(new PooledKubeConfig().createDispatcherOptions(cluster, {}), { type: "none" });
});
