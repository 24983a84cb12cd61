// A Kubernetes timestamp (metadata.creationTimestamp and the like) in milliseconds since the
// epoch. Lists give client-node's Date objects, watch events the raw RFC 3339 text; both become
// numbers here, and anything else (absent, unreadable) none.
export function timestampMs(stamp: unknown): number | undefined {
  if (!(stamp instanceof Date) && typeof stamp !== "string") return undefined;
  const time = new Date(stamp).getTime();
  return Number.isNaN(time) ? undefined : time;
}
