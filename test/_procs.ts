/**
 * Finding test processes by a unique `sleep` duration in their command line
 * (Linux /proc), to check that nothing a command started outlives it.
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";

const marks: string[] = [];

/** A `sleep` duration no other process uses (remembered for killMarked). */
export function sleepMarker(): string {
  const m = `${70 + Math.floor(Math.random() * 20)}.${Math.floor(Math.random() * 1e6)}`;
  marks.push(m);
  return m;
}

/** Pids of running (not zombie) processes whose command line is `sleep MARK`. */
export function runningSleeps(mark: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0");
      const state = readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]?.[0];
      if (argv[0].endsWith("sleep") && argv[1] === mark && state !== "Z" && state !== "X") out.push(Number(pid));
    } catch {}
  }
  return out;
}

/** SIGKILL every process still running under a marker this file handed out (after a failed test). */
export function killMarked(): void {
  for (const m of marks) for (const pid of runningSleeps(m)) process.kill(pid, "SIGKILL");
}
