// The agent's KubeConfig. client-node 2.x builds a new undici Agent for every API request, so every
// request opens its own TLS connection: a handshake per heartbeat for the API server, and for the
// agent a SecureContext and a socket per request that linger until their idle timeout. A burst of
// claims and status writes for a thousand Services left several hundred MB of native memory behind.
// Here every request of the API clients made from this config shares the first dispatcher, so they
// ride a few kept-alive connections, as client-go's transport does.
//
// The dispatcher holds the TLS material of the first request: credentials that change while the
// agent runs must come as headers (bearer tokens are re-read per request), not as a client
// certificate rotated on disk.
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

export class PooledKubeConfig extends KubeConfig {
  #dispatcher: Dispatcher | undefined;

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
}
