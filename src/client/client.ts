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
import { equalBytes, equalStrings, fromB64u, fromUtf8, openChaCha, parsePin, utf8 } from "../crypto/index.ts";
import { signRequest, signResponse } from "../auth/index.ts";
import { decodeCredential, decodeServerPublic, encodeCredential, parseKeyFile, type Credential } from "../keys/index.ts";
import { defaultSocketPath } from "../config/index.ts";
import { createUnixTransport, type Transport } from "./transport.ts";
import { createLoopbackTransport, createTlsTransport } from "./tls.ts";
import { createWsTransport } from "./transport-ws.ts";
import { loopbackOpener, tlsOpener, unixOpener } from "./ws-open.ts";
import { raiseFromResponse } from "./errors.ts";
import { isPlainTarget } from "../wire/target.ts";
import { startHandshake } from "./join.ts";
import { asyncDispose, getOrSetFlow, makeHold, runHeld, type GetOrSetOptions, type Lease, type Lock } from "./holds.ts";
import { abortable, sleep, untilFree, type CallOptions, type WaitOptions } from "./wait.ts";
import { compressor, type CompressOption, type Compressor, type Encoded } from "./compress.ts";
import { toStatus, type LeaseOptions, type LockOptions, type SetOptions, type Status, type WhoAmI } from "./options.ts";

export { raiseFromResponse };
export type { CallOptions, GetOrSetOptions, Lease, LeaseOptions, Lock, LockOptions, SetOptions, Status, WaitOptions, WhoAmI };

/** How often `Client.rekey` sends its rekey when the answers are lost (PROTOCOL.md §6). */
export const REKEY_ATTEMPTS = 3;

export interface ClientOptions {
  /** Path of hush.sock. Default: HUSH_SOCKET, then the daemon's default path. */
  socket?: string;
  /**
   * The user (name or uid) that must own the socket and its directory, for a
   * daemon run by another user (a service user with `--socket-group`).
   * Default: HUSH_SOCKET_OWNER, else this process's uid. A socket that fails
   * the check gets no request at all (HushError `auth_failed`).
   */
  socketOwner?: string | number;
  /**
   * A controller URL (`https://HOST:PORT`) instead of a socket. Default:
   * HUSH_URL. The server key is pinned with the credential's TLS pin.
   */
  url?: string;
  /** Override the pin (`sha256//BASE64`), e.g. after the controller's TLS key changed. */
  tlsPin?: string;
  /** A `HUSH-WORKER-1…` string. Default: HUSH_CREDENTIAL. */
  credential?: string;
  /**
   * `"ws"` (the default): signed requests as messages on a WebSocket
   * connection shared by concurrent calls (PROTOCOL.md §3.6); `"http"`: one
   * HTTP request per call. Default: HUSH_TRANSPORT, else `"ws"`.
   */
  transport?: TransportKind;
  /** WebSocket connections shared by this client's calls (opened as needed). Default 1. */
  connections?: number;
  /** Retries of a request that never reached the daemon. Default 5. */
  retries?: number;
  timeoutMs?: number;
  /**
   * Rotate the key by itself: at half of its lifetime and when the daemon
   * answers rekey_required. Default: true when `credential` is given, false
   * when it comes from HUSH_CREDENTIAL (which many processes may share: one
   * credential must be rotated by one process only).
   */
  autoRekey?: boolean;
  /** Called with the new credential string after every rekey (e.g. to save it). */
  onRekey?: (credential: string) => void;
  /**
   * Send request bodies of 1 KiB or more compressed: `"gzip"`, `"zstd"` or
   * `{ coding, thresholdBytes, maxRatio }` (compress.ts). Default false: why, in compress.ts.
   */
  compress?: CompressOption;
}

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

export type TransportKind = "ws" | "http";

/** `opts.transport`, else HUSH_TRANSPORT, else "ws". Throws HushError `invalid_request` for anything else. */
export function transportKind(opts: { transport?: string | undefined }, env: Record<string, string | undefined> = process.env): TransportKind {
  const k = opts.transport ?? (env.HUSH_TRANSPORT || "ws");
  if (k !== "ws" && k !== "http") throw new HushError("invalid_request", `transport must be "ws" or "http" (HUSH_TRANSPORT), got ${JSON.stringify(k)}`);
  return k;
}

/**
 * The unix socket, or HTTPS pinned to the server's key (plain HTTP only to
 * loopback); over WebSocket connections unless `transport` (or
 * HUSH_TRANSPORT) is "http". A WebSocket transport falls back to HTTP for a
 * while when the daemon refuses the upgrade (transport-ws.ts `FALLBACK_MS`).
 */
export function pickTransport(opts: ClientOptions, credentialPin?: Uint8Array): Transport {
  const url = opts.url ?? process.env.HUSH_URL;
  const ws = transportKind(opts) === "ws";
  if (!url) {
    const socket = opts.socket ?? defaultSocketPath();
    const http = createUnixTransport(socket, opts);
    return ws ? createWsTransport(unixOpener(socket, opts.socketOwner), `the hush daemon at ${socket}`, { ...opts, fallback: http }) : http;
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HushError("invalid_request", `not a URL: ${url}`);
  }
  // Requests go to fixed paths on HOST:PORT: a path, query or user name would be dropped silently.
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash || u.username || u.password) {
    throw new HushError("invalid_request", `the URL must be only ${u.protocol}//HOST:PORT, without a path, query or user name: ${u.protocol}//${u.host}`);
  }
  if (u.protocol === "https:") {
    const override = opts.tlsPin ?? process.env.HUSH_TLS_PIN;
    const pin = override ? parsePin(override) : credentialPin;
    if (!pin) {
      throw new HushError(
        "invalid_request",
        override ? "tlsPin must look like sha256//BASE64 (44 characters)" : "no TLS pin: this credential or token was not made by a TLS controller; pass the controller's pin (sha256//…)",
      );
    }
    const http = createTlsTransport(url, pin, opts);
    return ws ? createWsTransport(tlsOpener(url, pin, opts.timeoutMs ?? 10_000), `the hush controller at ${u.host}`, { ...opts, fallback: http }) : http;
  }
  if (u.protocol === "http:") {
    const t = createLoopbackTransport(url, opts); // checks that the host is a loopback address
    return ws ? createWsTransport(loopbackOpener(url), u.host, { ...opts, fallback: t }) : t;
  }
  throw new HushError("invalid_request", "the URL must start with https:// (or http:// to a loopback address)");
}

/** `path` as a URL parser normalises it (`pathname + search`): what the daemon checks and the signature covers. */
function normalTarget(path: string): string {
  const url = new URL(path, "http://localhost");
  return url.pathname + url.search;
}

function checkName(name: string, what: string): string {
  if (typeof name !== "string" || name.length === 0 || name === "." || name === "..") {
    throw new HushError("invalid_request", `${what} must be a non-empty string other than "." and ".."`);
  }
  return encodeURIComponent(name);
}

export class Client {
  readonly socket: string;
  private cred: Credential;
  private readonly transport: Transport;
  private readonly autoRekey: boolean;
  private readonly onRekey: ((credential: string) => void) | undefined;
  private readonly compressor: Compressor | undefined;
  private rekeyAfter = Infinity;
  private rekeying: Promise<void> | null = null;

  private closed = false;

  constructor(opts: ClientOptions = {}) {
    const credential = opts.credential ?? process.env.HUSH_CREDENTIAL;
    if (!credential) {
      throw new HushError(
        "invalid_request",
        "no hush credential: HUSH_CREDENTIAL is not set. Start this command under `hush run -- <command>` (a private daemon for the run, which sets HUSH_SOCKET and HUSH_CREDENTIAL), or pass { credential }",
      );
    }
    // Accept a bare string or a whole key file (comment header lines are skipped).
    this.cred = decodeCredential(parseKeyFile(credential));
    this.socket = opts.socket ?? defaultSocketPath();
    this.transport = pickTransport(opts, this.cred.tlsPin);
    // A credential from the environment may be shared by many processes (hush
    // run, hush join -- CMD): if two of them rotated it, the second would look
    // like a clone and lock the worker. So only an explicitly given credential
    // rotates by itself unless autoRekey says otherwise.
    this.autoRekey = opts.autoRekey ?? opts.credential !== undefined;
    this.onRekey = opts.onRekey;
    this.compressor = compressor(opts.compress);
  }

  /** A client from HUSH_SOCKET and HUSH_CREDENTIAL. */
  static fromEnv(opts: ClientOptions = {}): Client {
    return new Client(opts);
  }

  get keyId(): string {
    return this.cred.keyId;
  }

  /** The current credential string (it changes after a rekey). */
  get credential(): string {
    return encodeCredential(this.cred);
  }

  /** Send a signed request; verify the signed answer; return its JSON. */
  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    if (this.closed) throw closedError();
    if (this.autoRekey && Date.now() >= this.rekeyAfter && path !== "/v1/rekey") await this.rekey();
    try {
      return await this.callOnce<T>(method, path, body);
    } catch (e) {
      if (this.autoRekey && e instanceof HushError && e.code === "rekey_required") {
        await this.rekey();
        return await this.callOnce<T>(method, path, body);
      }
      throw e;
    }
  }

  /**
   * Rotate this worker's keys (PROTOCOL.md §6): a Noise handshake keyed by
   * the current mac key, then a signed whoami with the new key, which
   * confirms it (until then the daemon keeps the old key in force).
   * Concurrent callers share one rotation.
   *
   * A rekey whose answer does not arrive (HushError `unavailable`: the
   * daemon may have rotated and the answer was lost) is sent again with the
   * old key, at most `REKEY_ATTEMPTS` times in all: the daemon answers the
   * retry with a fresh pending key and forgets the lost one. After the last
   * attempt the error is thrown and the old key stays in use (still valid).
   * Throws HushError `auth_failed` when the daemon refuses the rekey or the
   * new key (a copied credential locks the worker), `unavailable`.
   */
  rekey(): Promise<void> {
    return (this.rekeying ??= this.rotate().finally(() => {
      this.rekeying = null;
    }));
  }

  private async rotate(): Promise<void> {
    // Address the server key this credential knows first: a key that was
    // already rotated away then reaches /v1/rekey, where the daemon can
    // recognise a copied credential. Only when that server key itself was
    // retired, learn the active one from a signed whoami and try again.
    let serverPublic = this.cred.serverPublic;
    let done: { hs: ReturnType<typeof startHandshake>; msg: string };
    try {
      done = await this.sendRekey(serverPublic);
    } catch (e) {
      if (!(e instanceof HushError && e.code === "auth_failed")) throw e;
      const who = await this.callOnce<{ server_public: string }>("GET", "/v1/whoami");
      const active = decodeServerPublic(who.server_public);
      if (equalBytes(active, serverPublic)) throw e;
      serverPublic = active;
      done = await this.sendRekey(serverPublic);
    }
    const { macKey, encKey } = done.hs.finish(done.msg);
    const old = this.cred;
    this.cred = { ...old, macKey, encKey, serverPublic };
    // Requests in flight still verify answers with the old key; wipe it after the grace period.
    const t = setTimeout(() => (old.macKey.fill(0), old.encKey.fill(0)), 15_000);
    (t as any).unref?.();
    this.rekeyAfter = Infinity;
    // Confirm the new key at once (its first use). Any failure but a refusal
    // of the key is no matter: the daemon confirms at the next request
    // signed with it.
    try {
      await this.callOnce("GET", "/v1/whoami");
    } catch (e) {
      if (e instanceof HushError && e.code === "auth_failed") throw e;
    }
    this.onRekey?.(encodeCredential(this.cred));
  }

  /** POST /v1/rekey with a fresh message 1, again while the answer is lost (`unavailable`). */
  private async sendRekey(serverPublic: Uint8Array): Promise<{ hs: ReturnType<typeof startHandshake>; msg: string }> {
    for (let attempt = 1; ; attempt++) {
      const hs = startHandshake(serverPublic, this.cred.macKey, `hush/1 rekey\n${this.cred.keyId}`, { ts: Date.now() });
      try {
        const r = await this.callOnce<{ msg: string }>("POST", "/v1/rekey", { msg: hs.msg });
        return { hs, msg: r.msg };
      } catch (e) {
        if (!(e instanceof HushError && e.code === "unavailable") || attempt >= REKEY_ATTEMPTS) throw e;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  private async callOnce<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.exchange<T>(method, path, body)).data;
  }

  /** One signed round trip; also returns the request signature and the key that made it. */
  private async exchange<T>(method: string, path: string, body?: unknown): Promise<{ data: T; signature: string; cred: Credential }> {
    const target = isPlainTarget(path) ? path : normalTarget(path);
    const text = body === undefined ? undefined : JSON.stringify(body);
    const cred = this.cred; // a concurrent rekey must not change the key mid-request
    // The signature covers the body as sent: compressed, when it is (PROTOCOL.md §1).
    const sent: { body: Encoded["body"] | undefined; encoding?: Encoded["encoding"] } = text !== undefined && this.compressor ? this.compressor.encode(text) : { body: text };
    const signed = signRequest(cred.macKey, cred.keyId, { method, target, body: sent.body });
    const headers: Record<string, string> = { authorization: signed.authorization };
    if (text !== undefined) headers["content-type"] = "application/json";
    if (sent.encoding) headers["content-encoding"] = sent.encoding;
    const res = await this.transport.request(method, target, headers, sent.body);
    const sig = res.header("hush-signature");
    if (sig === null) {
      // Unsigned answers are accepted only as errors: they can make a call fail, never succeed.
      if (res.status < 400) throw new HushError("auth_failed", "the daemon's answer carried no signature");
      raiseFromResponse(res);
    }
    // `want` is canonical base64url of 32 bytes: equal strings ⇔ equal MACs (a non-canonical form is refused).
    const want = signResponse(cred.macKey, signed.signature, res.status, res.body, res.bodyHash);
    if (!equalStrings(sig, want)) throw new HushError("auth_failed", "the daemon's answer has a bad signature (wrong server or tampered response)");
    const after = Number(res.header("hush-rekey-after"));
    if (after > 0 && cred === this.cred) this.rekeyAfter = after;
    if (res.status >= 400) raiseFromResponse(res);
    return { data: JSON.parse(res.body) as T, signature: signed.signature, cred };
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
    if (this.closed) throw closedError();
    if (this.autoRekey && Date.now() >= this.rekeyAfter) await this.rekey();
    let r;
    try {
      r = await this.exchange<any>("POST", path, { ttl_ms: ttlMs });
    } catch (e) {
      if (!(this.autoRekey && e instanceof HushError && e.code === "rekey_required")) throw e;
      await this.rekey();
      r = await this.exchange<any>("POST", path, { ttl_ms: ttlMs });
    }
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
    if (this.closed) throw closedError();
    const res = await abortable(() => this.transport.request("GET", "/v1/health", {}), opts.signal);
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
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
    this.cred.macKey.fill(0);
    this.cred.encKey.fill(0);
  }

  /** `close()`, for `await using hush = Client.fromEnv()`. */
  async [asyncDispose](): Promise<void> {
    this.close();
  }
}

function closedError(): HushError {
  return new HushError("invalid_request", "this hush client is closed (close() was called); make a new Client", { closed: true });
}
