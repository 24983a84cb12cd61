// What went wrong with an API request, in the terms the election needs: an answer it must act on
// (conflict, not found, forbidden, invalid) or no usable answer at all (the API server is
// unreachable, overloaded or cannot reach etcd), which is what degraded hold is about.
import { ApiException } from "@kubernetes/client-node";

export type ApiFailure = "conflict" | "not-found" | "forbidden" | "invalid" | "unreachable";

/**
 * The HTTP status of a refused request: an ApiException's code, or the statusCode client-node's Watch
 * puts on the plain Error it reports when the API server refuses a watch.
 */
function httpStatus(error: unknown): number | undefined {
  if (error instanceof ApiException) return (error as ApiException<unknown>).code;
  const status: unknown =
    typeof error === "object" && error !== null && "statusCode" in error ? error.statusCode : undefined;
  return typeof status === "number" ? status : undefined;
}

export function classifyApiError(error: unknown): ApiFailure {
  const status = httpStatus(error);
  if (status === undefined) return "unreachable";
  if (status === 409) return "conflict";
  if (status === 404) return "not-found";
  if (status === 401 || status === 403) return "forbidden";
  if (status === 429 || status >= 500) return "unreachable";
  return "invalid";
}

/** A one-line account of an API error for logs and Events (ApiException's message holds headers). */
export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = (error as ApiException<unknown>).body;
    const message =
      typeof body === "object" && body !== null && "message" in body && typeof body.message === "string"
        ? body.message
        : JSON.stringify(body);
    return `HTTP ${(error as ApiException<unknown>).code}: ${message}`;
  }
  const status = httpStatus(error);
  if (status !== undefined && error instanceof Error) return `HTTP ${status}: ${error.message}`;
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: { code?: unknown; message?: unknown } }).cause;
    const detail =
      typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : "";
    return detail === "" ? error.message : `${error.message} (${detail})`;
  }
  return String(error);
}
