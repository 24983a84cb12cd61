// An agent's cost as the kernel accounts it: resident memory from /proc/<pid>/status and CPU time
// from /proc/<pid>/stat, read from the root namespace (PIDs are the same there).
import { readFile } from "node:fs/promises";

export interface CpuReading {
  /** User plus system time, in clock ticks. */
  readonly ticks: number;
  /** CLOCK_MONOTONIC ns of the reading. */
  readonly atNs: number;
}

/**
 * utime + stime from a /proc/<pid>/stat line. The command name in parentheses may itself hold
 * spaces and parentheses, so fields are counted from the last ")".
 */
export function parseCpuTicks(statLine: string): number {
  const fields = statLine.slice(statLine.lastIndexOf(")") + 2).split(" ");
  // After the name: state is field 3 of proc(5), utime 14 and stime 15.
  return Number(fields[14 - 3]) + Number(fields[15 - 3]);
}

/** VmRSS in bytes from /proc/<pid>/status. */
export function parseRssBytes(statusText: string): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(statusText);
  if (match === null) throw new Error("no VmRSS in /proc/<pid>/status");
  return Number(match[1]) * 1024;
}

// Linux reports CPU time in USER_HZ, which is 100 on every architecture Node runs on.
const TICKS_PER_SECOND = 100;

/** Share of one core used between two readings, in percent. */
export function cpuPercent(before: CpuReading, after: CpuReading): number {
  const seconds = (after.atNs - before.atNs) / 1e9;
  return ((after.ticks - before.ticks) / TICKS_PER_SECOND / seconds) * 100;
}

// A process that died mid-run (the kernel's OOM killer, a crash) is named as such, not as a
// missing file.
async function readProc(pid: number, file: "stat" | "status"): Promise<string> {
  try {
    return await readFile(`/proc/${pid}/${file}`, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new Error(`process ${pid} is gone: it exited or was killed (see dmesg for the OOM killer)`);
    throw error;
  }
}

export async function readCpu(pid: number): Promise<CpuReading> {
  const stat = await readProc(pid, "stat");
  return { ticks: parseCpuTicks(stat), atNs: Number(process.hrtime.bigint()) };
}

export async function readRss(pid: number): Promise<number> {
  return parseRssBytes(await readProc(pid, "status"));
}
