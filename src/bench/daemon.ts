/**
 * The daemon `hush bench` measures: a private `hush serve` started as a
 * separate process (load generator and daemon must not share a core's
 * event loop), in a fresh 0700 directory, stopped and removed afterwards —
 * or an existing daemon given by its socket.
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AdminClient, createUnixTransport } from "../client/index.ts";
import { HushError } from "../errors.ts";
import { SECRET_ENV, childEnv } from "../os/env.ts";
import { BENCH_CRED, type OpName } from "./ops.ts";

export interface BenchDaemon {
  socket: string;
  /** pid of the daemon when this process started it (for RSS). */
  pid?: number;
  /** Resident set size of the daemon in bytes, or null when unknown. */
  rss(): number | null;
  /** CPU time (user + system) the daemon has used, in ms, or null when unknown. */
  cpuMs(): number | null;
  /** The last 4 000 characters the daemon wrote to stderr (its log), when this process started it. */
  logTail(): string;
  stop(): Promise<void>;
}

/** VmRSS of a process in bytes (Linux), or null. */
export function readRss(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** User + system CPU time of a process in ms (Linux, clock ticks of 10 ms), or null. */
export function readCpuMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

/**
 * How to start `hush serve`: the running hush binary when compiled, else
 * this runtime with cmd/main.ts from source. `override` (whitespace-split)
 * replaces it, e.g. to run a scratch copy under `bun --cpu-prof`.
 */
export function serveCommand(override?: string): string[] {
  if (override) return override.trim().split(/\s+/);
  const compiled = import.meta.path.startsWith("/$bunfs/") || Bun.main.startsWith("/$bunfs/");
  return compiled ? [process.execPath] : [process.execPath, resolve(import.meta.dir, "../../cmd/main.ts")];
}

/** Start a private daemon; resolves once it answers /v1/ready. */
export async function startPrivateDaemon(opts: { command?: string; serveArgs?: string[] } = {}): Promise<BenchDaemon> {
  const dir = mkdtempSync(join(process.env.XDG_RUNTIME_DIR || tmpdir(), "hush-bench-"));
  const socket = join(dir, "hush.sock");
  let log = "";
  const proc = Bun.spawn([...serveCommand(opts.command), "serve", "--socket", socket, ...(opts.serveArgs ?? [])], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    // The private daemon makes its own server key; no secret of the caller's environment is handed on.
    env: childEnv(process.env, {}, SECRET_ENV),
  });
  // Drain the daemon's log (it logs joins); keep the tail for error reports.
  (async () => {
    const dec = new TextDecoder();
    for await (const c of proc.stderr as any) log = (log + dec.decode(c, { stream: true })).slice(-4000);
  })().catch(() => {});
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await proc.exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const t = createUnixTransport(socket, { retries: 0, timeoutMs: 2000 });
  const end = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new HushError("unavailable", `the bench daemon exited with code ${proc.exitCode}: ${log.trim().split("\n").slice(-3).join(" | ")}`);
    }
    try {
      if ((await t.request("GET", "/v1/ready", {})).status === 200) break;
    } catch {}
    if (Date.now() > end) {
      await stop();
      throw new HushError("unavailable", "the bench daemon did not become ready in 20 s");
    }
    await Bun.sleep(25);
  }
  return { socket, pid: proc.pid, rss: () => readRss(proc.pid), cpuMs: () => readCpuMs(proc.pid), logTail: () => log, stop };
}

/** What an op needs from the admin socket: a worker credential, a credential to check out, a join token. */
export async function provision(
  socket: string,
  op: OpName,
  valueSize: number,
  wantCredential: boolean,
  socketOwner?: string,
): Promise<{ credential?: string; token?: string }> {
  const admin = new AdminClient({ socket, retries: 0, socketOwner });
  try {
    const out: { credential?: string; token?: string } = {};
    if (wantCredential) out.credential = (await admin.call("POST", "/v1/admin/workers", { name: "bench", tags: ["bench"] })).credential;
    if (op === "checkout") await admin.call("POST", "/v1/admin/creds", { name: BENCH_CRED, values: ["x".repeat(valueSize)], allow: ["*"], mode: "shared" });
    // Joined workers live one minute: the registry's key material is wiped by the sweeper.
    if (op === "join") out.token = (await admin.call("POST", "/v1/admin/tokens", { uses: "unlimited", ttl_ms: 3600_000, worker_ttl_ms: 60_000 })).token;
    return out;
  } finally {
    admin.close();
  }
}
