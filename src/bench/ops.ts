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

/** The SDK clients and raw transports one run uses, made on first use per worker. */
interface Carriers {
  client(worker: number): Client;
  transport(worker: number): Transport;
  close(): void;
}

function makeCarriers(s: OpSetup): Carriers {
  const clients: Client[] = [];
  const transports: Transport[] = [];
  const carrier = s.transport ? "http" : transportKind({ transport: s.carrier });
  return {
    client(worker) {
      if (!s.credential) throw new HushError("invalid_request", "no credential given");
      // HTTP: one SDK client per worker; WebSocket: one shared client (its calls pipelined, as an
      // application's concurrent calls are). autoRekey off so a rekey never shows up inside the numbers.
      const w = carrier === "ws" ? 0 : worker;
      if (!clients[w]) {
        clients[w] = new Client({ socket: s.socket, socketOwner: s.socketOwner, credential: s.credential, retries: 0, autoRekey: false, transport: carrier });
        if (s.transport) (clients[w] as any).session.transport = s.transport(s.socket); // session.ts: the signed channel holds the transport
      }
      return clients[w];
    },
    transport: (w) => (transports[w] ??= s.transport ? s.transport(s.socket) : createUnixTransport(s.socket, { retries: 0, socketOwner: s.socketOwner })),
    close() {
      for (const c of clients) c?.close();
      for (const t of transports) t?.close();
    },
  };
}

const key = (i: number) => `${BENCH_PREFIX}k:${i}`;

/** Write the keys get reads, `connections` at a time. */
async function writeKeys(c: Carriers, s: OpSetup, value: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(s.connections, s.keys) }, async (_, w) => {
      for (let i = next++; i < s.keys; i = next++) await c.client(w).set(key(i), value, { ttlMs: BENCH_TTL_MS });
    }),
  );
}

/** lock: acquire, then release, alternately; what is still held is given back (best effort) at close. */
function lockOp(c: Carriers): PreparedOp {
  const held: ({ release(): Promise<unknown> } | null)[] = [];
  return {
    run: async (w) => {
      const h = held[w];
      if (h) {
        held[w] = null;
        await h.release();
      } else held[w] = await c.client(w).lock(`${BENCH_PREFIX}lock:${w}`, { ttlMs: 30_000 });
    },
    close: () => void Promise.allSettled(held.map((h) => h?.release())).finally(() => c.close()),
  };
}

/** The operation of each name but lock (which holds state of its own). */
function simpleOp(op: Exclude<OpName, "lock">, c: Carriers, s: OpSetup, value: string): Operation {
  switch (op) {
    case "ping":
      return async (w) => {
        if ((await c.transport(w).request("GET", "/v1/health", {})).status !== 200) fail("health");
      };
    case "get":
      return async (w, k) => {
        const v = await c.client(w).get<string>(key(k % s.keys));
        if (typeof v !== "string" || v.length !== s.valueSize) fail("get");
      };
    case "set":
      return (w, k) => c.client(w).set(key(k % s.keys), value, { ttlMs: BENCH_TTL_MS });
    case "incr":
      return async (w) => {
        if (typeof (await c.client(w).incr(`${BENCH_PREFIX}ctr:${w}`, 1, { ttlMs: BENCH_TTL_MS })) !== "number") fail("incr");
      };
    case "checkout":
      // Short leases: shared checkouts are not given back, so they must expire quickly.
      return async (w) => {
        if ((await c.client(w).checkout(BENCH_CRED, { ttlMs: 5_000 })).value.length !== s.valueSize) fail("checkout");
      };
    case "join":
      if (!s.token) throw new HushError("invalid_request", "join needs a join token");
      return async (w, k) => {
        const r = await joinWithToken(c.transport(w), s.token!, `bench-${w}-${k}`);
        if (!r.credential.startsWith("HUSH-WORKER-1")) fail("join");
      };
  }
}

/** Build the operation (and write what it needs first, e.g. the keys for get). */
export async function prepareOp(op: OpName, s: OpSetup): Promise<PreparedOp> {
  const value = "x".repeat(s.valueSize);
  const c = makeCarriers(s);
  if (op === "lock") return lockOp(c);
  if (op === "get") await writeKeys(c, s, value);
  return { run: simpleOp(op, c, s, value), close: () => c.close() };
}
