// The agent's KubeConfig. client-node 2.x builds a new undici Agent for every API request, so every
// request opens its own TLS connection: a handshake per heartbeat for the API server, and for the
// agent a SecureContext and a socket per request that linger until their idle timeout. A burst of
// claims and status writes for a thousand Services left several hundred MB of native memory behind.
// Here every request of the API clients made from this config shares the first dispatcher, so they
// ride kept-alive connections.
//
// HTTP/1.1 only: undici would otherwise negotiate HTTP/2 and multiplex every request on one
// session, and Node's HTTP/2 client spins in nghttp2's send loop when that session carries a few
// thousand streams against a busy API server — the agent's event loop stalled for minutes, its VIPs
// expired and its memory grew by gigabytes (measured with 3000+ Services). Over HTTP/1.1 each
// request in flight holds a connection of its own, so what keeps their number small is how few
// requests are in flight: the work queue runs at most RECONCILE_CONCURRENCY reconciles at once
// (agent.ts), each mostly waiting on one request; the watches and the heartbeat are one each; and
// the request limiter, a token bucket, bounds the rate of everything but the heartbeat
// (--kube-api-qps), so Events, which nothing awaits, are in flight about that rate times the API
// server's latency.
//
// The dispatcher holds the TLS material of the first request: credentials that change while the
// agent runs must come as headers (bearer tokens are re-read per request), not as a client
// certificate rotated on disk.
//
// The API clients made from it also report every request that failed (api-requests.ts), for
// vipd_api_errors_total: one place sees them all, whichever module sent them.
import {
  KubeConfig,
  type ApiConstructor,
  type ApiType,
  type Cluster,
  type Configuration,
  type RequestContext,
} from "@kubernetes/client-node";
import { observedHttpLibrary, type FailedRequest } from "./api-requests.ts";

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

type DispatcherOptions = ReturnType<KubeConfig["createDispatcherOptions"]>;

export interface PooledKubeConfigOptions {
  readonly onFailedRequest: (failed: FailedRequest) => void;
}

export class PooledKubeConfig extends KubeConfig {
  #dispatcher: Dispatcher | undefined;
  readonly #onFailedRequest: (failed: FailedRequest) => void;

  constructor(options: PooledKubeConfigOptions) {
    super();
    this.#onFailedRequest = options.onFailedRequest;
  }

  // client-node builds the client's configuration itself; the client is given it with the HTTP
  // library wrapped.
  override makeApiClient<T extends ApiType>(apiClientType: ApiConstructor<T>): T {
    const onFailure = this.#onFailedRequest;
    const observed = function (this: unknown, configuration: Configuration): T {
      return new apiClientType({
        ...configuration,
        httpApi: observedHttpLibrary(configuration.httpApi, onFailure),
      });
    };
    return super.makeApiClient(observed as unknown as ApiConstructor<T>);
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const created = context.getDispatcher();
    if (created === undefined) return;
    this.#dispatcher ??= created;
    if (created !== this.#dispatcher) {
      context.setDispatcher(this.#dispatcher);
      // Never used, so it holds no connection; closing it settles at once.
      void created.close();
    }
  }

  // The connector then offers only http/1.1 in TLS ALPN, so the API server never picks HTTP/2.
  override createDispatcherOptions(
    cluster: Cluster | null,
    agentOptions: Parameters<KubeConfig["createDispatcherOptions"]>[1],
  ): DispatcherOptions {
    const options = super.createDispatcherOptions(cluster, agentOptions);
    if (options.type !== "agent" && options.type !== "proxy") return options;
    // client-node hands `connect` to undici's connector as it is; its type omits this option.
    const connect: typeof options.connect & { readonly allowH2: boolean } = {
      ...options.connect,
      allowH2: false,
    };
    return { ...options, connect };
  }
}
