/**
 * The SDK's WebSocket transport (PROTOCOL.md §3.6): signed requests as
 * binary messages on one long-lived connection (or a few), many in flight
 * at once, answers matched by message id. It has the `Transport` shape of
 * the HTTP transport, so the `Client` signs and verifies exactly as it does
 * over HTTP.
 *
 * Connections open on first use and again after a drop (reconnecting on
 * their own). When a connection drops, the calls waiting on it fail with a
 * HushError `unavailable` that says whether the request may have reached
 * the daemon:
 *
 * - `detail.sent === false` (and `connect: true`): it was never sent, or the
 *   daemon closed the connection saying it processed nothing unanswered
 *   (close code 4000). Safe to retry; the transport itself retries these
 *   (`retries`), re-sending the same signed message on a new connection.
 * - `detail.sent === true`: it was sent and its answer was lost. The daemon
 *   may have carried it out; it is never retried here.
 *
 * When the daemon refuses the upgrade (it answers it, but not with 101:
 * 503 `busy` when it has too many WebSocket connections), a transport
 * given a `fallback` (client.ts gives the HTTP transport to the same
 * daemon) sends that call over it, and every call of the next
 * `FALLBACK_MS`; then it tries WebSocket again.
 *
 * Sockets come from an `Opener`: on a unix socket (through the path
 * src/os/socket-trust.ts checked) hush's own client over Bun.connect in Bun
 * (ws-bun.ts) and the `ws` package in Node, both writing the frames of one
 * event-loop turn at once; and for TLS the `ws` package over a node:tls socket whose
 * pin was checked before the upgrade request was written (src/client/tls.ts).
 * @module
 */
import { HushError } from "../errors.ts";
import { decodeAnswer, encodeRequest } from "../wire/frame.ts";
import { hashBody } from "../auth/sign.ts";
import type { RawResponse, Transport } from "./transport.ts";

/** One open WebSocket, whatever the implementation. */
export interface WsSocket {
  /**
   * Send one message. `now` false lets the socket hold it until the end of
   * the event-loop turn and write it with the others sent meanwhile (one
   * system call); true (nothing else in flight) asks for it to be written
   * at once, which a socket may ignore (Node's does: ws-open.ts).
   */
  send(bytes: Uint8Array, now?: boolean): void;
  close(code?: number, reason?: string): void;
  /**
   * Whether the connection keeps the process alive: on while calls are in
   * flight, off while it is idle. A socket without these (Bun's built-in
   * WebSocket, used for loopback TCP, cannot be unref'd) is closed after
   * `IDLE_CLOSE_MS` idle instead.
   */
  ref?(): void;
  unref?(): void;
}

/** How long an idle connection that cannot be unref'd stays open (it keeps the process alive meanwhile). */
export const IDLE_CLOSE_MS = 250;

export interface WsEvents {
  message(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
}

/**
 * Opens one connection and resolves once it is open. A rejection means
 * nothing was sent; it should be a HushError (e.g. `auth_failed` for an
 * untrusted socket or a pin mismatch, `unavailable` with `connect: true`).
 */
export type Opener = (events: WsEvents) => Promise<WsSocket>;

export interface WsTransportOptions {
  /** Retries of a request that was not sent (connection refused, or closed with 4000). Default 5. */
  retries?: number | undefined;
  /** Per request, in ms: no answer by then fails it (`unavailable`, `sent: true`). Default 10 000. */
  timeoutMs?: number | undefined;
  /** Connections shared by the calls (opened as needed, the next one only while the others have calls in flight). Default 1 (connect.ts gives unix sockets `DEFAULT_UNIX_CONNECTIONS`). */
  connections?: number | undefined;
  /** Requests in flight per connection; more wait here. Default 128 (the daemon's default cap). */
  maxInFlight?: number | undefined;
  /** Where calls go while the daemon refuses the upgrade (above). None: a refused upgrade is retried like a refused connection. */
  fallback?: Transport | undefined;
}

/**
 * Connections per transport to a unix socket unless told otherwise. Two let
 * the client and the daemon work at once under concurrent calls (one
 * connection's requests are processed while the other's answers are read);
 * a sequential caller never opens the second. Over TCP the default stays 1:
 * there the daemon caps connections per source address
 * (`--ws-max-connections-source`), which many workers on one host share.
 */
export const DEFAULT_UNIX_CONNECTIONS = 2;

/** How long calls go to the fallback after a refused upgrade, in ms. */
export const FALLBACK_MS = 30_000;

/** Close code the daemon uses when no unanswered message of the connection was processed. */
export const CLOSE_UNPROCESSED = 4000;

interface Pending {
  resolve(r: RawResponse): void;
  reject(e: HushError): void;
  deadline: number;
}

function lost(what: string, code: number, reason: string): HushError {
  const why = reason ? `${code} ${reason}` : String(code);
  if (code === CLOSE_UNPROCESSED) return new HushError("unavailable", `${what}: the daemon closed the connection (${why}) before processing the request`, { connect: true, sent: false });
  return new HushError("unavailable", `${what}: the connection closed (${why}) after the request was sent; it may have been carried out`, { sent: true });
}

/** One WebSocket connection with its requests in flight. */
class Conn {
  readonly pending = new Map<string, Pending>();
  private next = 0;
  private sock: WsSocket | undefined;
  /** Set once the socket closed; the reason every later call fails with. */
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];
  private sweep: ReturnType<typeof setInterval> | undefined;
  private idle: ReturnType<typeof setTimeout> | undefined;
  readonly ready: Promise<void>;

  constructor(
    open: Opener,
    private readonly what: string,
    private readonly timeoutMs: number,
    private readonly maxInFlight: number,
  ) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HushError("unavailable", `${what}: the connection did not open within ${timeoutMs} ms`, { connect: true, sent: false })), timeoutMs);
    });
    const opened = open({ message: (b) => this.onMessage(b), close: (c, r) => this.onClose(c, r) }).then((s) => {
      this.sock = s;
      if (this.closed) s.close();
      else if (this.pending.size === 0) this.becomeIdle();
    });
    this.ready = Promise.race([opened, late]).finally(() => clearTimeout(timer));
    this.ready.catch(() => {
      this.closed ??= { code: 1006, reason: "not opened" };
      // Opened after all (too late): close it.
      opened.then(() => this.sock?.close(), () => {});
    });
  }

  /** Calls waiting for this connection to open (they count as its load, so concurrent first calls spread over connections). */
  opening = 0;

  get load(): number {
    return this.pending.size + this.waiters.length + this.opening;
  }

  /** Whether the socket is open (calls need not wait for `ready`). */
  get open(): boolean {
    return this.sock !== undefined && this.closed === undefined;
  }

  /** Send one request once the connection is open and has room; its answer. Never throws (rejects). */
  call(method: string, target: string, headers: Record<string, string>, body: string | Uint8Array<ArrayBuffer> | undefined): Promise<RawResponse> {
    // The common case (room in flight) without an async function's extra promise and turn.
    if (this.pending.size >= this.maxInFlight || this.closed) return this.callLater(method, target, headers, body);
    const id = (++this.next).toString(36);
    let frame: Uint8Array;
    try {
      frame = encodeRequest(id, method, target, headers, body);
    } catch (e) {
      return Promise.reject(new HushError("invalid_request", `cannot frame this request: ${(e as Error).message}`));
    }
    if (this.pending.size === 0) this.becomeBusy();
    const answer = new Promise<RawResponse>((resolve, reject) => this.pending.set(id, { resolve, reject, deadline: Date.now() + this.timeoutMs }));
    this.sweep ??= this.startSweep();
    this.sock!.send(frame, this.pending.size === 1);
    return answer;
  }

  private async callLater(method: string, target: string, headers: Record<string, string>, body: string | Uint8Array<ArrayBuffer> | undefined): Promise<RawResponse> {
    while (this.pending.size >= this.maxInFlight && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
    if (this.closed) throw lost(this.what, CLOSE_UNPROCESSED, "closed before sending");
    return this.call(method, target, headers, body);
  }

  private startSweep(): ReturnType<typeof setInterval> {
    const t = setInterval(() => {
      const now = Date.now();
      for (const [id, p] of this.pending) {
        if (p.deadline > now) continue;
        this.settle(id);
        p.reject(new HushError("unavailable", `${this.what}: no answer within ${this.timeoutMs} ms; the request may have been carried out`, { sent: true, timeout: true }));
      }
      if (this.pending.size === 0) {
        clearInterval(t);
        this.sweep = undefined;
      }
    }, Math.max(10, Math.min(1000, this.timeoutMs / 4)));
    (t as { unref?: () => void }).unref?.();
    return t;
  }

  private settle(id: string): void {
    this.pending.delete(id);
    this.waiters.shift()?.();
    if (this.pending.size === 0 && this.waiters.length === 0) this.becomeIdle();
  }

  private becomeBusy(): void {
    clearTimeout(this.idle);
    this.idle = undefined;
    this.sock?.ref?.();
  }

  /** Nothing in flight: let the process exit (unref), or close soon where that is not possible. */
  private becomeIdle(): void {
    const s = this.sock;
    if (!s || this.closed) return;
    if (s.unref) return s.unref();
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.pending.size === 0 && this.close(), IDLE_CLOSE_MS);
    (this.idle as { unref?: () => void }).unref?.();
  }

  private onMessage(bytes: Uint8Array): void {
    const d = decodeAnswer(bytes);
    const p = d.ok ? this.pending.get(d.frame.id) : undefined;
    if (!d.ok || !p) {
      // Not an answer to anything asked on this connection: nothing read from it can be trusted.
      this.fail(1002, d.ok ? `an answer to unknown message id ${JSON.stringify(d.frame.id)}` : `a malformed answer (${d.error})`);
      return;
    }
    this.settle(d.frame.id);
    const h = d.frame.headers;
    // The body's bytes are hashed as received, now (the message's buffer is not ours to keep).
    p.resolve({ status: d.frame.status, header: (n) => h[n.toLowerCase()] ?? null, body: d.frame.body, bodyHash: hashBody(d.frame.bytes) });
  }

  private onClose(code: number, reason: string): void {
    this.closed ??= { code, reason };
    clearInterval(this.sweep);
    clearTimeout(this.idle);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(lost(this.what, code, reason));
    for (const w of this.waiters.splice(0)) w();
  }

  /** Close after a protocol violation by the other side, failing everything in flight. */
  fail(code: number, reason: string): void {
    this.onClose(code, reason);
    this.sock?.close(code === 1002 ? 1002 : 1000, reason.slice(0, 120));
  }

  close(): void {
    this.onClose(1000, "closed by the client");
    this.sock?.close(1000, "");
  }
}

/**
 * A Transport over WebSocket connections made by `open`. `what` names the
 * daemon in errors ("cannot reach the hush daemon at …"-style text comes
 * from the opener).
 */
export function createWsTransport(open: Opener, what: string, opts: WsTransportOptions = {}): Transport {
  const retries = opts.retries ?? 5;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const max = Math.max(1, opts.connections ?? 1);
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 128);
  let conns: Conn[] = [];
  let shut = false;
  const fallback = opts.fallback;
  /** Date.now() until which calls go to `fallback`. */
  let fallbackUntil = 0;

  /** The least busy open connection, opening another while fewer than `max` are open. */
  function pick(): Conn {
    if (conns.some((c) => c.closed)) conns = conns.filter((c) => !c.closed);
    let best: Conn | undefined;
    for (const c of conns) if (!best || c.load < best.load) best = c;
    if (best && (best.load === 0 || conns.length >= max)) return best;
    const c = new Conn(open, what, timeoutMs, maxInFlight);
    conns.push(c);
    return c;
  }

  return {
    async request(method, target, headers, body) {
      for (let attempt = 0; ; attempt++) {
        if (shut) throw new HushError("unavailable", `${what}: this client was closed`, { connect: true, sent: false });
        if (fallback && Date.now() < fallbackUntil) return fallback.request(method, target, headers, body);
        const c = pick();
        try {
          if (!c.open) {
            c.opening++;
            await c.ready.finally(() => c.opening--);
          }
          return await c.call(method, target, headers, body);
        } catch (e) {
          if (!(e instanceof HushError)) throw e;
          if (fallback && e.detail.upgradeStatus !== undefined) {
            fallbackUntil = Date.now() + FALLBACK_MS;
            return fallback.request(method, target, headers, body);
          }
          if (e.detail.sent !== false || attempt >= retries) throw e;
          await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 1000)));
        }
      }
    },
    close() {
      shut = true;
      for (const c of conns) c.close();
      conns = [];
      fallback?.close();
    },
  };
}
