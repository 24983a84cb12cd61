// Names of a run's namespaces and links: "v<pid>_<serial>-…". The PID says which process owns them,
// so a later run can tell leftovers of a crashed run from those of a run still going, and never
// touches the latter.
import { deleteNamespace, listNamespaces, processAlive } from "./netns.ts";

const OWNED_NAME = /^v(\d+)_\d+-[a-z0-9]+$/;

let labsStarted = 0;

/** A prefix no other lab has, in this process or any other one alive. */
export function nextRunPrefix(): string {
  labsStarted += 1;
  return `v${process.pid}_${labsStarted}`;
}

function ownerPid(netns: string): number | undefined {
  const pid = OWNED_NAME.exec(netns)?.[1];
  return pid === undefined ? undefined : Number(pid);
}

/** Namespaces whose names start with prefix; empty once a lab is fully torn down. */
export function namespacesWithPrefix(prefix: string): string[] {
  return listNamespaces().filter((name) => name.startsWith(`${prefix}-`));
}

/**
 * Removes what earlier runs left when they could not clean up (SIGKILL, a crash, a power cut): the
 * namespaces of owners that no longer exist, and the processes still inside them.
 */
export function sweepStale(): string[] {
  const stale = listNamespaces().filter((name) => {
    const pid = ownerPid(name);
    return pid !== undefined && pid !== process.pid && !processAlive(pid);
  });
  for (const netns of stale) deleteNamespace(netns);
  return stale;
}
