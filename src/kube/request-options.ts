// Per-request options for @kubernetes/client-node: a deadline on every call (the generated clients
// have none, and a request into a cut network would otherwise hang for the kernel's TCP timeout),
// the content type of patches, and the client-side rate limit. The deadline starts once the limit
// lets the request go: time spent waiting behind other requests of this agent is not the API
// server's slowness.
import {
  Observable,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import type { RequestLane, RequestLimiter } from "./request-limiter.ts";

// The deadline of every request but the heartbeat's. A renewal is worth nothing once the retry
// period is over, but a claim, a status write or an Event is as good late as early, and cutting
// them short under load made things worse: an HTTP/1.1 request that is aborted takes its connection
// with it, so a busy API server was sent a new TLS handshake for each retry (seen with 4000
// Services: a thousand connections in TIME-WAIT per agent, every request timing out). Long enough
// for a busy API server, short enough that a request into a cut network is retried.
export const REQUEST_TIMEOUT_MS = 10_000;

export interface RequestOptions {
  readonly timeoutMs: number;
  readonly contentType?: string | undefined;
  /** Absent for requests that must never wait behind others (the heartbeat). */
  readonly limiter?: RequestLimiter | undefined;
  /** Which queue of the limiter the request waits in; the reconcile loop's by default. */
  readonly lane?: RequestLane;
}

export function requestOptions(options: RequestOptions): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          const { limiter } = options;
          const allowed = limiter?.acquire(options.lane ?? "reconcile") ?? Promise.resolve();
          return new Observable(
            allowed.then(() => {
              context.setSignal(AbortSignal.timeout(options.timeoutMs));
              if (options.contentType !== undefined)
                context.setHeaderParam("Content-Type", options.contentType);
              return context;
            }),
          );
        },
        post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}
