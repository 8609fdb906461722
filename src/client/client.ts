/**
 * The hush SDK: a `Client` that signs every request (PROTOCOL.md §3),
 * verifies every response signature (§4) and throws `HushError` carrying the
 * protocol error code. Works in Bun and in Node ≥ 20.
 *
 *   const hush = Client.fromEnv();          // HUSH_SOCKET + HUSH_CREDENTIAL
 *   await hush.set("build/id", "42", { ttlMs: 60_000 });
 *   await hush.withLock("db-migrate", async (signal) => migrate(signal), { ttlMs: 30_000, wait: { timeoutMs: 60_000 } });
 *   const db = await hush.getOrSet("fixture/db", () => createDatabase(), { ttlMs: 3_600_000 });
 *
 * Every method takes `{ signal }` (an AbortSignal); every object returned is
 * camelCase (the wire stays snake_case; `call()` returns it raw). The API
 * reference is docs/SDK.md.
 * @module
 */
import { HushError } from "../errors.ts";
import { fromB64u, fromUtf8, openChaCha, utf8 } from "../crypto/index.ts";
import { decodeCredential, keyFileAddresses, parseKeyFile } from "../keys/index.ts";
import { defaultSocketPath } from "../config/index.ts";
import { raiseFromResponse } from "./errors.ts";
import { pickTransport, transportKind } from "./connect.ts";
import { closedError, REKEY_ATTEMPTS, SignedSession } from "./session.ts";
import { asyncDispose, getOrSetFlow, makeHold, runHeld, type GetOrSetOptions, type Lease, type Lock } from "./holds.ts";
import { abortable, sleep, untilFree, type CallOptions, type WaitOptions } from "./wait.ts";
import { compressor } from "./compress.ts";
import { toStatus, type ClientOptions, type LeaseOptions, type LockOptions, type SetOptions, type Status, type TransportKind, type WhoAmI } from "./options.ts";

export { pickTransport, raiseFromResponse, REKEY_ATTEMPTS, transportKind };
export type { CallOptions, ClientOptions, GetOrSetOptions, Lease, LeaseOptions, Lock, LockOptions, SetOptions, Status, TransportKind, WaitOptions, WhoAmI };

export interface Checkout {
  name: string;
  value: string;
  version: number;
  mode: "shared" | "exclusive";
  leaseId: string;
  expiresAt: number;
  /** Give the value back early (exclusive credentials). */
  return(): Promise<void>;
}

/** Open `sealed` = b64u(nonce ‖ ChaCha20-Poly1305(encKey, nonce, plaintext, aad = signature)). */
export function openSealed(encKey: Uint8Array, signature: string, sealed: string): { name: string; value: string; version: number } {
  let raw: Uint8Array;
  try {
    raw = fromB64u(sealed);
  } catch {
    throw new HushError("auth_failed", "the sealed credential is malformed");
  }
  let plain: Uint8Array;
  try {
    plain = openChaCha(encKey, raw.subarray(0, 12), raw.subarray(12), utf8(signature));
  } catch {
    throw new HushError("auth_failed", "the sealed credential does not open with this worker's key");
  }
  try {
    return JSON.parse(fromUtf8(plain));
  } finally {
    plain.fill(0);
  }
}

function checkName(name: string, what: string): string {
  if (typeof name !== "string" || name.length === 0 || name === "." || name === "..") {
    throw new HushError("invalid_request", `${what} must be a non-empty string other than "." and ".."`);
  }
  return encodeURIComponent(name);
}

export class Client {
  readonly socket: string;
  private readonly session: SignedSession;

  constructor(opts: ClientOptions = {}) {
    const credential = opts.credential ?? process.env.HUSH_CREDENTIAL;
    if (!credential) {
      throw new HushError(
        "invalid_request",
        "no hush credential: HUSH_CREDENTIAL is not set. Start this command under `hush run -- <command>` (a private daemon for the run, which sets HUSH_SOCKET and HUSH_CREDENTIAL), or pass { credential }",
      );
    }
    // Accept a bare string or a whole key file (comment header lines are skipped).
    const cred = decodeCredential(parseKeyFile(credential));
    this.socket = opts.socket ?? defaultSocketPath();
    // A credential from the environment may be shared by many processes (hush
    // run, hush join -- CMD): if two of them rotated it, the second would look
    // like a clone and lock the worker. So only an explicitly given credential
    // rotates by itself unless autoRekey says otherwise.
    const transport = pickTransport(opts, cred.tlsPin, keyFileAddresses(credential));
    this.session = new SignedSession(cred, transport, opts.autoRekey ?? opts.credential !== undefined, opts.onRekey, compressor(opts.compress));
  }

  /** A client from HUSH_SOCKET and HUSH_CREDENTIAL. */
  static fromEnv(opts: ClientOptions = {}): Client {
    return new Client(opts);
  }

  get keyId(): string {
    return this.session.keyId;
  }

  /** The current credential string (it changes after a rekey). */
  get credential(): string {
    return this.session.credential;
  }

  /** Send a signed request; verify the signed answer; return its JSON. */
  call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    return this.session.call<T>(method, path, body);
  }

  /** Rotate this worker's keys now (PROTOCOL.md §6); see session.ts `rekey` for the errors. */
  rekey(): Promise<void> {
    return this.session.rekey();
  }

  /** One call, abortable by `signal` (it rejects with `signal.reason`). */
  private req<T = any>(method: string, path: string, body: unknown, signal: AbortSignal | undefined): Promise<T> {
    return abortable(() => this.call<T>(method, path, body), signal);
  }

  private readonly caller = (method: string, path: string, body: unknown, signal: AbortSignal | undefined) => this.req(method, path, body, signal);

  /** This client's key, as the daemon sees it. */
  async whoami(opts: CallOptions = {}): Promise<WhoAmI> {
    const r = await this.req("GET", "/v1/whoami", undefined, opts.signal);
    return { id: r.id, name: r.name, kind: r.kind, tags: r.tags, expiresAt: r.expires_at, rekeyRequired: r.rekey_required, serverPublic: r.server_public };
  }

  /**
   * How the daemon is doing (`GET /v1/status`, signed; worker and admin
   * keys): uptime, memory, items and bytes against their limits, requests
   * in flight, draining or degraded. Unlike `health`, this needs a key.
   */
  async status(opts: CallOptions = {}): Promise<Status> {
    return toStatus(await this.req("GET", "/v1/status", undefined, opts.signal));
  }

  /** The stored value (a sliding key's expiry moves); throws HushError `not_found` when absent or expired. */
  async get<T = unknown>(key: string, opts: CallOptions = {}): Promise<T> {
    return (await this.req("GET", `/v1/kv/${checkName(key, "key")}`, undefined, opts.signal)).value;
  }

  /**
   * Store `value` (any JSON value) under `key`. `written` is false only with
   * `ifAbsent` when a live key exists (nothing changed; `expiresAt` is that
   * key's). `expiresAt` is null for a key without expiry.
   */
  async set(key: string, value: unknown, opts: SetOptions = {}): Promise<{ expiresAt: number | null; written: boolean }> {
    const body = { value, ttl_ms: opts.ttlMs, if_absent: opts.ifAbsent, slide: opts.slide };
    const r = await this.req("PUT", `/v1/kv/${checkName(key, "key")}`, body, opts.signal);
    return { expiresAt: r.expires_at, written: r.written };
  }

  /** Remaining time to live of a live key in ms; null when it never expires. Not a read: it does not slide. HushError `not_found` when absent. */
  async ttl(key: string, opts: CallOptions = {}): Promise<number | null> {
    return (await this.req("GET", `/v1/kv/${checkName(key, "key")}/ttl`, undefined, opts.signal)).ttl_ms;
  }

  /**
   * The value under `key`, made once by whoever asks first: the daemon
   * answers the value or lets exactly one caller claim the key (one step);
   * that caller runs `factory(signal)`, stores its result with `ifAbsent`
   * and returns it, while the others wait (`wait`, default 60 s) and get the
   * stored value. See holds.ts `getOrSetFlow` and docs/SDK.md.
   */
  async getOrSet<T>(key: string, factory: (signal: AbortSignal) => T | Promise<T>, opts: GetOrSetOptions = {}): Promise<T> {
    return getOrSetFlow(this.caller, `/v1/kv/${checkName(key, "key")}`, factory, opts);
  }

  async del(key: string, opts: CallOptions = {}): Promise<boolean> {
    return (await this.req("DELETE", `/v1/kv/${checkName(key, "key")}`, undefined, opts.signal)).deleted;
  }

  /**
   * Every live key under `prefix`, sorted: follows the daemon's pages
   * (PROTOCOL.md §8 `GET /v1/kv`) until the last one. For big stores, use
   * `pages()` or `listPage`.
   */
  async list(prefix = "", opts: CallOptions = {}): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of this.pages(prefix, opts)) keys.push(...page);
    return keys;
  }

  /**
   * The pages of live keys under `prefix`, in order, until the last one. A
   * page refused `rate_limited` (the daemon's listing budget) is asked for
   * again after its Retry-After, at most 10 times in a row.
   */
  async *pages(prefix = "", opts: CallOptions = {}): AsyncGenerator<string[]> {
    let cursor: string | undefined;
    let waits = 0;
    do {
      let page;
      try {
        page = await this.listPage(prefix, { cursor, signal: opts.signal });
      } catch (e) {
        if (!(e instanceof HushError && e.code === "rate_limited") || ++waits > 10) throw e;
        await sleep(1000 * Math.min(60, e.retryAfter || 1), opts.signal);
        continue;
      }
      waits = 0;
      yield page.keys;
      // A cursor always moves forward; a repeated one would loop for ever.
      if (page.nextCursor !== null && page.nextCursor === cursor) throw new HushError("internal", "the daemon repeated a listing cursor");
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /**
   * One page of live keys under `prefix`: at most `limit` (default and
   * maximum: the daemon's page size, 1 000 unless `--max-list`), after the
   * page that returned `cursor`. `nextCursor` is null on the last page.
   */
  async listPage(prefix = "", opts: { limit?: number | undefined; cursor?: string | undefined } & CallOptions = {}): Promise<{ keys: string[]; nextCursor: string | null }> {
    let q = `prefix=${encodeURIComponent(prefix)}`;
    if (opts.limit !== undefined) q += `&limit=${encodeURIComponent(String(opts.limit))}`;
    if (opts.cursor !== undefined) q += `&cursor=${encodeURIComponent(opts.cursor)}`;
    const r = await this.req("GET", `/v1/kv?${q}`, undefined, opts.signal);
    return { keys: r.keys, nextCursor: r.next_cursor ?? null };
  }

  /** Add `by` to an integer counter (a new one starts at `by`); the new value. */
  async incr(key: string, by = 1, opts: { ttlMs?: number | undefined } & CallOptions = {}): Promise<number> {
    return (await this.req("POST", `/v1/kv/${checkName(key, "key")}/incr`, { by, ttl_ms: opts.ttlMs }, opts.signal)).value;
  }

  /**
   * Acquire a lock: its fencing token and expiry. While someone holds it:
   * HushError `conflict` with `expiresAt` (the holder's expiry) at once, or
   * after waiting `wait.timeoutMs` (polling with jitter, wait.ts).
   */
  async lock(name: string, opts: LockOptions): Promise<Lock> {
    const path = `/v1/locks/${checkName(name, "lock name")}`;
    const body = { ttl_ms: opts.ttlMs, holder: opts.holder };
    const r = await untilFree(() => this.req("POST", path, body, opts.signal), opts.wait, opts.signal);
    return makeHold(this.caller, path, r.token, r.expires_at, { name, holder: opts.holder });
  }

  /**
   * Run `fn(signal, lock)` holding lock `name` (taken as `lock()` does,
   * waiting per `opts.wait`): renewed every ttlMs/3 while `fn` runs,
   * released after it settles, also when it throws. If a renewal fails
   * (the lock is lost), `signal` aborts, and once `fn` settles withLock
   * rejects with that error even if `fn` resolved. Returns what `fn` returns.
   */
  async withLock<T>(name: string, fn: (signal: AbortSignal, lock: Lock) => T | Promise<T>, opts: LockOptions): Promise<T> {
    const lock = await this.lock(name, opts);
    return runHeld(lock, `lock ${JSON.stringify(name)}`, opts.ttlMs, (signal) => fn(signal, lock), opts.signal);
  }

  /**
   * Lease the smallest free slot of a pool of `size`; the same holder (same
   * credential) gets the same slot and token back, renewed. When all are
   * taken: HushError `conflict` with `expiresAt`, at once or after `wait`.
   */
  async lease(pool: string, opts: LeaseOptions): Promise<Lease> {
    const path = `/v1/pools/${checkName(pool, "pool name")}`;
    const body = { size: opts.size, ttl_ms: opts.ttlMs, holder: opts.holder, one_per_holder: opts.onePerHolder };
    const r = await untilFree(() => this.req("POST", `${path}/lease`, body, opts.signal), opts.wait, opts.signal);
    return makeHold(this.caller, path, r.token, r.expires_at, { pool, slot: r.slot as number, holder: opts.holder });
  }

  /**
   * Check a credential out (PROTOCOL.md §7). The value arrives sealed to this
   * worker's enc key, bound to this request's signature, and is opened here.
   * Exclusive credentials should be given back with `return()`.
   */
  async checkout(name: string, opts: { ttlMs?: number | undefined } & CallOptions = {}): Promise<Checkout> {
    return abortable(() => this.checkoutNow(name, opts.ttlMs), opts.signal);
  }

  private async checkoutNow(name: string, ttlMs: number | undefined): Promise<Checkout> {
    const path = `/v1/creds/${checkName(name, "credential name")}/checkout`;
    const r = await this.session.exchangeRekeying<any>("POST", path, { ttl_ms: ttlMs });
    const plain = openSealed(r.cred.encKey, r.signature, r.data.sealed);
    const leaseId: string = r.data.lease_id;
    return {
      name: plain.name,
      value: plain.value,
      version: plain.version,
      mode: r.data.mode,
      leaseId,
      expiresAt: r.data.expires_at,
      return: async () => {
        await this.call("POST", `/v1/creds/leases/${encodeURIComponent(leaseId)}/return`, {});
      },
    };
  }

  /** Liveness (unauthenticated). */
  async health(opts: CallOptions = {}): Promise<{ ok: boolean; version: string }> {
    if (this.session.closed) throw closedError();
    const res = await abortable(() => this.session.transport.request("GET", "/v1/health", {}), opts.signal);
    if (res.status !== 200) raiseFromResponse(res);
    return JSON.parse(res.body);
  }

  /**
   * Drop pooled connections and wipe the key material held by this client.
   * Idempotent; any later call throws HushError `invalid_request` (detail
   * `closed: true`). Locks and leases still held are not released (they
   * expire by their TTL): release them first, or use `await using`.
   */
  close(): void {
    this.session.close();
  }

  /** `close()`, for `await using hush = Client.fromEnv()`. */
  async [asyncDispose](): Promise<void> {
    this.close();
  }
}
