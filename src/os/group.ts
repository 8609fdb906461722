/**
 * Ending a whole process group: for a command hush starts in a group of its
 * own (`Bun.spawn(…, { detached: true })`, which calls setsid(2), so the
 * group id is the command's pid) and must not outlive hush, with whatever
 * it started in the background.
 *
 * `endGroup` sends SIGTERM to the group, gives it `graceMs` to go, then
 * sends SIGKILL. A member is gone once it has exited: zombies waiting for a
 * parent to reap them are not counted (on Linux, /proc says which; elsewhere
 * `kill(-pgid, 0)` is the only test and counts them).
 *
 * The group id is safe to signal while its leader has not been reaped, or
 * while any member lives: the kernel never hands out a pid that is still in
 * use as a process group id. Only after the last member is gone could the
 * number be reused, and then `groupAlive` already said no.
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";

/** Is any process of group `pgid` still running (not a zombie)? */
export function groupAlive(pgid: number): boolean {
  if (process.platform === "linux") {
    let pids: string[];
    try {
      pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n));
    } catch {
      return _signalGroup(pgid, 0);
    }
    for (const pid of pids) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      } catch {
        continue; // it exited while we looked
      }
      // "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) === pgid && f[0] !== "Z" && f[0] !== "X") return true;
    }
    return false;
  }
  return _signalGroup(pgid, 0);
}

/** Send `signal` to every process of group `pgid`; false when the group has no process left (ESRCH). */
function _signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e: any) {
    return e?.code !== "ESRCH"; // EPERM: a member we may not signal (it changed its uid) still runs
  }
}

async function _waitGone(pgid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= end) return false;
    await Bun.sleep(20);
  }
}

/**
 * End process group `pgid`: SIGTERM, then SIGKILL to what is left after
 * `graceMs` (default 2000). Resolves once no member runs any more (or, after
 * SIGKILL, after one more second at most: a process stuck in the kernel
 * cannot be hurried).
 */
export async function endGroup(pgid: number, graceMs = 2_000): Promise<void> {
  if (!Number.isSafeInteger(pgid) || pgid <= 1) throw new RangeError(`not a process group id: ${pgid}`);
  if (!_signalGroup(pgid, "SIGTERM")) return;
  if (await _waitGone(pgid, graceMs)) return;
  _signalGroup(pgid, "SIGKILL");
  await _waitGone(pgid, 1_000);
}
