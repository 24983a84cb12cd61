// Per-request options for @kubernetes/client-node: a deadline on every call (the generated clients
// have none, and a request into a cut network would otherwise hang for the kernel's TCP timeout),
// and the content type of patches.
import {
  Observable,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";

export interface RequestOptions {
  readonly timeoutMs: number;
  readonly contentType?: string;
}

export function requestOptions(options: RequestOptions): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setSignal(AbortSignal.timeout(options.timeoutMs));
          if (options.contentType !== undefined) context.setHeaderParam("Content-Type", options.contentType);
          return new Observable(Promise.resolve(context));
        },
        post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}
