/**
 * The operations `hush bench` can drive, each through the public SDK (what
 * users get): every request signed, every answer's signature verified.
 *
 *   ping      GET /v1/health, unauthenticated: the HTTP round-trip floor
 *   get       GET a value (keys written once before the run)
 *   set       PUT a value with a TTL
 *   incr      increment a per-connection counter
 *   lock      acquire, then release, alternately (one request per operation)
 *   checkout  check a shared credential out (sealed to the worker, opened here)
 *   join      a full Noise NKpsk0 join handshake with an unlimited token
 * @module
 */
import { Client, HushError, createUnixTransport, joinWithToken, transportKind, type Transport, type TransportKind } from "../client/index.ts";
import type { Operation } from "./load.ts";

export const OPS = ["ping", "get", "set", "incr", "lock", "checkout", "join"] as const;
export type OpName = (typeof OPS)[number];

/** Names and TTLs of what the bench writes: recognisable, and gone by themselves. */
export const BENCH_PREFIX = "bench:";
export const BENCH_TTL_MS = 10 * 60_000;
export const BENCH_CRED = "bench-cred";

export interface OpSetup {
  socket: string;
  /** The user that must own the socket (default: HUSH_SOCKET_OWNER, else the caller). */
  socketOwner?: string;
  /** Worker credential (every op but ping and join). */
  credential?: string;
  /** Join token string (join). */
  token?: string;
  connections: number;
  /** Length of the string value written by set (and read by get). */
  valueSize: number;
  /** Distinct keys used by get and set. */
  keys: number;
  /** Experiment only: replace the SDK's fetch transport (bench/sdk-transport.ts). */
  transport?: (socket: string) => Transport;
  /**
   * How the SDK carries requests: "ws" (default: every worker shares one
   * Client, whose requests are pipelined on its WebSocket connections, two by default) or
   * "http" (one Client per worker, one request in flight each).
   */
  carrier?: TransportKind;
}

export interface PreparedOp {
  run: Operation;
  close(): void;
}

export function isOpName(s: string): s is OpName {
  return (OPS as readonly string[]).includes(s);
}

function fail(what: string): never {
  throw new HushError("internal", `bench: unexpected answer to ${what}`);
}

/** Build the operation (and write what it needs first, e.g. the keys for get). */
export async function prepareOp(op: OpName, s: OpSetup): Promise<PreparedOp> {
  const value = "x".repeat(s.valueSize);
  const clients: Client[] = [];
  const carrier = s.transport ? "http" : transportKind({ transport: s.carrier });
  const client = (worker: number): Client => {
    if (!s.credential) throw new HushError("invalid_request", "no credential given");
    // HTTP: one SDK client per worker; WebSocket: one shared client (its calls pipelined, as an
    // application's concurrent calls are). autoRekey off so a rekey never shows up inside the numbers.
    const w = carrier === "ws" ? 0 : worker;
    if (!clients[w]) {
      clients[w] = new Client({ socket: s.socket, socketOwner: s.socketOwner, credential: s.credential, retries: 0, autoRekey: false, transport: carrier });
      if (s.transport) (clients[w] as any).session.transport = s.transport(s.socket); // session.ts: the signed channel holds the transport
    }
    return clients[w];
  };
  const transports: Transport[] = [];
  const transport = (w: number) => (transports[w] ??= s.transport ? s.transport(s.socket) : createUnixTransport(s.socket, { retries: 0, socketOwner: s.socketOwner }));
  const close = () => {
    for (const c of clients) c?.close();
    for (const t of transports) t?.close();
  };
  const key = (i: number) => `${BENCH_PREFIX}k:${i}`;

  let run: Operation;
  switch (op) {
    case "ping":
      run = async (w) => {
        const r = await transport(w).request("GET", "/v1/health", {});
        if (r.status !== 200) fail("health");
      };
      break;
    case "get": {
      // Write the keys first, `connections` at a time.
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(s.connections, s.keys) }, async (_, w) => {
          for (let i = next++; i < s.keys; i = next++) await client(w).set(key(i), value, { ttlMs: BENCH_TTL_MS });
        }),
      );
      run = async (w, k) => {
        const v = await client(w).get<string>(key(k % s.keys));
        if (typeof v !== "string" || v.length !== s.valueSize) fail("get");
      };
      break;
    }
    case "set":
      run = (w, k) => client(w).set(key(k % s.keys), value, { ttlMs: BENCH_TTL_MS });
      break;
    case "incr":
      run = async (w) => {
        const v = await client(w).incr(`${BENCH_PREFIX}ctr:${w}`, 1, { ttlMs: BENCH_TTL_MS });
        if (typeof v !== "number") fail("incr");
      };
      break;
    case "lock": {
      const held: ({ release(): Promise<unknown> } | null)[] = [];
      run = async (w) => {
        const h = held[w];
        if (h) {
          held[w] = null;
          await h.release();
        } else held[w] = await client(w).lock(`${BENCH_PREFIX}lock:${w}`, { ttlMs: 30_000 });
      };
      const inner = close;
      return {
        run,
        close: () => {
          // Give back what is still held (best effort) before the clients go.
          Promise.allSettled(held.map((h) => h?.release())).finally(inner);
        },
      };
    }
    case "checkout":
      run = async (w) => {
        // Short leases: shared checkouts are not given back, so they must expire quickly.
        const c = await client(w).checkout(BENCH_CRED, { ttlMs: 5_000 });
        if (c.value.length !== s.valueSize) fail("checkout");
      };
      break;
    case "join":
      if (!s.token) throw new HushError("invalid_request", "join needs a join token");
      run = async (w, k) => {
        const r = await joinWithToken(transport(w), s.token!, `bench-${w}-${k}`);
        if (!r.credential.startsWith("HUSH-WORKER-1")) fail("join");
      };
      break;
  }
  return { run, close };
}
