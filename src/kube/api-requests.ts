// Every API request the agent makes, failed ones counted: the generated clients' requests pass
// through an HTTP library that reports each failure (observedHttpLibrary), the informers' watches
// report theirs themselves (informer.ts). A failure is named the way kubectl's audit log would name
// the request — its verb and resource — and classed as errors.ts classes it.
import {
  Observable,
  type HttpLibrary,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { classifyApiError, type ApiFailure } from "./errors.ts";

export interface FailedRequest {
  /** get, list, watch, create, update, patch, delete, or discovery (what the API server serves). */
  readonly operation: string;
  /**
   * The resource as kubectl names it: its plural, with its API group unless it is in the core group
   * (services, leases.coordination.k8s.io, vippools.vipd.io); "" for discovery.
   */
  readonly resource: string;
  readonly failure: ApiFailure;
}

/**
 * The verb and resource of a request to the API server, from its method and path: /api/v1/…,
 * /apis/<group>/<version>/…, with or without namespaces/<namespace>/, a name and a subresource.
 */
export function describeRequest(method: string, url: string): Pick<FailedRequest, "operation" | "resource"> {
  const { pathname, searchParams } = new URL(url, "https://api-server");
  const segments = pathname.split("/").filter((segment) => segment !== "");
  const rest = segments[0] === "api" ? segments.slice(2) : segments[0] === "apis" ? segments.slice(3) : [];
  const scoped = rest[0] === "namespaces" && rest.length >= 3 ? rest.slice(2) : rest;
  const [plural, name] = scoped;
  if (plural === undefined) return { operation: "discovery", resource: "" };
  const group = segments[0] === "apis" ? segments[1] : undefined;
  const resource = group === undefined ? plural : `${plural}.${group}`;
  const verb = method.toUpperCase();
  if (verb === "GET") {
    if (name !== undefined) return { operation: "get", resource };
    return { operation: searchParams.get("watch") === "true" ? "watch" : "list", resource };
  }
  const verbs: Readonly<Record<string, string>> = {
    POST: "create",
    PUT: "update",
    PATCH: "patch",
    DELETE: "delete",
  };
  return { operation: verbs[verb] ?? verb.toLowerCase(), resource };
}

/**
 * The HTTP library the generated clients send through, reporting every request that failed: no
 * answer (refused, unreachable, timed out) or an answer of 400 or more.
 */
export function observedHttpLibrary(
  library: HttpLibrary,
  onFailure: (failed: FailedRequest) => void,
): HttpLibrary {
  return {
    send(request: RequestContext): Observable<ResponseContext> {
      const report = (error: unknown): void => {
        onFailure({
          ...describeRequest(request.getHttpMethod(), request.getUrl()),
          failure: classifyApiError(error),
        });
      };
      const sent = library
        .send(request)
        .toPromise()
        .then(
          (response) => {
            if (response.httpStatusCode >= 400) report({ statusCode: response.httpStatusCode });
            return response;
          },
          (error: unknown) => {
            report(error);
            throw error;
          },
        );
      return new Observable(sent);
    },
  };
}
