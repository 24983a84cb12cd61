// The agent's HTTP endpoint: /metrics for Prometheus, /healthz (the process is alive and its loops
// turn) and /readyz (caches synced, heartbeat renewed within R, data plane working). Each check is
// a function of real state supplied by the agent, so the answers cannot drift from the truth.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import type { ListenAddress } from "../config/schema.ts";

export interface HealthCheck {
  readonly name: string;
  /** null when healthy, else what is wrong. */
  readonly problem: () => string | null;
}

export interface HttpEndpointOptions {
  readonly listen: ListenAddress;
  readonly registry: Registry;
  readonly liveness: readonly HealthCheck[];
  readonly readiness: readonly HealthCheck[];
}

function report(checks: readonly HealthCheck[]): { ok: boolean; body: string } {
  const lines = checks.map((check) => {
    const problem = check.problem();
    return {
      ok: problem === null,
      line: problem === null ? `[+] ${check.name} ok` : `[-] ${check.name}: ${problem}`,
    };
  });
  const ok = lines.every((line) => line.ok);
  return { ok, body: `${lines.map((line) => line.line).join("\n")}\n${ok ? "ok" : "failed"}\n` };
}

export async function startHttpEndpoint(options: HttpEndpointOptions): Promise<Server> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://vipd").pathname;
    if (path === "/metrics") {
      options.registry
        .metrics()
        .then((body) => {
          response.writeHead(200, { "content-type": options.registry.contentType }).end(body);
        })
        .catch((error: unknown) => {
          response.writeHead(500).end(String(error));
        });
      return;
    }
    const checks =
      path === "/healthz" ? options.liveness : path === "/readyz" ? options.readiness : undefined;
    if (checks === undefined) {
      response
        .writeHead(404, { "content-type": "text/plain" })
        .end("not found: try /metrics, /healthz or /readyz\n");
      return;
    }
    const { ok, body } = report(checks);
    response.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
