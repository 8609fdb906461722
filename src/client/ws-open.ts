/**
 * Openers for the WebSocket transport (transport-ws.ts): where and how a
 * connection to `GET /v1/ws` is made.
 *
 * - unix socket: the socket is checked first (src/os/socket-trust.ts) and
 *   the connection goes through the checked `/proc/self/fd/N/…` path:
 *   in Bun with hush's own client over Bun.connect (ws-bun.ts), in Node
 *   with the `ws` package (`ws+unix://PATH:/v1/ws`). Both write the
 *   frames of one event-loop turn with one system call;
 * - TLS: a node:tls socket whose server key matches the pin before anything
 *   is written (tls.ts `openPinned`), handed to the `ws` package
 *   (`createConnection`), which then writes the upgrade request on it. Bun's
 *   built-in client is not used for TLS: it checks a certificate only when
 *   chain validation is on (against a CA hush does not use) and so cannot
 *   check a key pin before it sends;
 * - plain loopback HTTP (`--insecure-loopback`): `ws://HOST:PORT/v1/ws`.
 * @module
 */
/// <reference path="./ws-module.d.ts" />
import { HushError } from "../errors.ts";
import { resolveSocketOwner, trustSocket } from "../os/socket-trust.ts";
import { openPinned } from "./tls.ts";
import { OpenError, connectBunWs } from "./ws-bun.ts";
import type { Opener, WsEvents, WsSocket } from "./transport-ws.ts";

const PATH = "/v1/ws";

/** The parts of the `ws` package's WebSocket this module uses. */
interface NodeWs {
  binaryType: string;
  on(ev: "open", f: () => void): void;
  on(ev: "message", f: (data: Buffer, isBinary: boolean) => void): void;
  on(ev: "close", f: (code: number, reason: Buffer) => void): void;
  on(ev: "error", f: (e: Error & { code?: string }) => void): void;
  on(ev: "unexpected-response", f: (req: unknown, res: { statusCode?: number; resume(): void }) => void): void;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  /** The underlying net or tls socket once connected (ref/unref). */
  _socket?: { ref(): void; unref(): void; cork(): void; uncork(): void } | null;
}
type NodeWsClass = new (url: string, opts: Record<string, unknown>) => NodeWs;

let wsClass: Promise<NodeWsClass> | undefined;
/**
 * The `ws` package: a dependency of the source tree, bundled into the npm
 * package's dist/sdk (tsdown.config.ts; README "SDK"), where it is a chunk of
 * its own (loaded when first used by the ESM build, at load by the CommonJS one).
 */
function loadWs(): Promise<NodeWsClass> {
  return (wsClass ??= import("ws").then((m: any) => (m.default ?? m.WebSocket ?? m) as NodeWsClass));
}

const isBun = () => typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** Errors while opening: nothing was sent. */
function notReached(where: string, why: unknown): HushError {
  return new HushError("unavailable", `cannot reach ${where} (${why})`, { connect: true, sent: false });
}

/**
 * The daemon answered the upgrade, but not with 101: it runs, and refused
 * the WebSocket (503: too many connections, PROTOCOL.md §4). `detail.upgradeStatus`
 * lets the transport fall back to HTTP (transport-ws.ts).
 */
function upgradeRefused(where: string, status: number): HushError {
  const why = status === 503 ? "it has too many WebSocket connections" : `HTTP ${status}`;
  return new HushError(status === 503 ? "busy" : "unavailable", `${where} is running but refused the WebSocket upgrade (${why})`, { connect: true, sent: false, upgradeStatus: status });
}

/** Wire a `ws` package socket to `events`; resolves once open. */
function fromNodeWs(ws: NodeWs, events: WsEvents, where: string): Promise<WsSocket> {
  ws.binaryType = "nodebuffer";
  return new Promise((resolve, reject) => {
    let open = false;
    let corked = false;
    ws.on("open", () => {
      open = true;
      const sock = ws._socket;
      const uncork = () => {
        corked = false;
        sock?.uncork();
      };
      // Every frame is corked until the end of the turn (setImmediate): one write for all of them.
      // Unlike Bun's writer (ws-bun.ts), not even a lone frame is written at once: in Node the
      // extra write per batch cost more than the wait (paired runs: 8–11 % less client CPU per
      // request at 32 in flight, sequential calls unchanged).
      const send = (b: Uint8Array) => {
        if (!corked && sock) {
          corked = true;
          sock.cork();
          setImmediate(uncork);
        }
        ws.send(b);
      };
      resolve({ send, close: (c, r) => ws.close(c, r), ref: () => sock?.ref(), unref: () => sock?.unref() });
    });
    ws.on("message", (data, isBinary) => (isBinary ? events.message(data) : events.close(1003, "a text frame from the daemon")));
    ws.on("unexpected-response", (_req, res) => {
      res.resume();
      ws.terminate();
      if (!open) reject(upgradeRefused(where, res.statusCode ?? 0));
    });
    ws.on("error", (e) => {
      if (!open) reject(e instanceof HushError ? e : notReached(where, e.code ?? e.message));
    });
    ws.on("close", (code, reason) => {
      if (!open) reject(notReached(where, `closed before it opened (${code})`));
      events.close(code, reason.toString("utf8"));
    });
  });
}

/** Bun: hush's own client over Bun.connect (ws-bun.ts: batched writes, unref); resolves once open. */
function fromBunSocket(path: string, events: WsEvents, where: string): Promise<WsSocket> {
  return connectBunWs(path, PATH, { message: events.message, text: () => events.close(1003, "a text frame from the daemon"), close: events.close }).catch((e: Error) => {
    throw e instanceof OpenError && e.status ? upgradeRefused(where, e.status) : notReached(where, e.message);
  });
}

/** Bun's built-in WebSocket (loopback TCP only); resolves once open. */
function fromBunWs(url: string, events: WsEvents, where: string): Promise<WsSocket> {
  const W = (globalThis as unknown as { WebSocket: new (u: string) => any }).WebSocket;
  const ws = new W(url);
  ws.binaryType = "nodebuffer";
  return new Promise((resolve, reject) => {
    let open = false;
    /** The status of an upgrade answered without 101 (Bun says so only in the error event's message). */
    let refused = 0;
    ws.onerror = (e: { message?: string }) => {
      refused = Number(/Expected 101 status code: (\d{3})/.exec(e.message ?? "")?.[1] ?? 0);
    };
    ws.onopen = () => {
      open = true;
      resolve({ send: (b: Uint8Array) => ws.send(b), close: (c?: number, r?: string) => ws.close(c, r) });
    };
    ws.onmessage = (e: { data: unknown }) => (typeof e.data === "string" ? events.close(1003, "a text frame from the daemon") : events.message(e.data as Uint8Array));
    ws.onclose = (e: { code: number; reason: string }) => {
      if (!open) reject(refused ? upgradeRefused(where, refused) : notReached(where, e.reason || "connection refused"));
      events.close(e.code, e.reason);
    };
  });
}

/**
 * Connections to the unix socket at `socketPath`, owned by `socketOwner`
 * (see `trustSocket`). Throws (asynchronously) HushError `auth_failed`
 * (`untrustedSocket`) for a socket that fails the check, `unavailable`
 * (`connect`) when it cannot be reached.
 */
export function unixOpener(socketPath: string, socketOwner?: string | number): Opener {
  const owner = resolveSocketOwner(socketOwner);
  const where = `the hush daemon at ${socketPath}`;
  return async (events) => {
    let via: string;
    try {
      // Checked before every connection (the daemon may have restarted in a new directory).
      via = trustSocket(socketPath, owner);
    } catch (e: any) {
      if (e instanceof HushError) throw e;
      throw notReached(where, e?.code ?? e?.message ?? e);
    }
    if (isBun()) return fromBunSocket(via, events, where);
    if (via.includes(":")) throw new HushError("invalid_request", `the socket path ${socketPath} contains ":", which a ws+unix URL cannot carry; use transport: "http"`);
    const url = `ws+unix://${via}:${PATH}`;
    const W = await loadWs();
    return fromNodeWs(new W(url, { perMessageDeflate: false }), events, where);
  };
}

/** Connections to `https://HOST:PORT`, refusing any server whose key does not match `pin` before the upgrade is written. */
export function tlsOpener(url: string, pin: Uint8Array, timeoutMs: number): Opener {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port || 443);
  const where = `the hush controller at ${u.host}`;
  return async (events) => {
    const sock = await openPinned(host, port, pin, timeoutMs);
    const W = await loadWs().catch((e) => {
      sock.destroy();
      throw e;
    });
    const ws = new W(`wss://${u.host}${PATH}`, { perMessageDeflate: false, createConnection: () => sock, handshakeTimeout: timeoutMs });
    return fromNodeWs(ws, events, where);
  };
}

/** Connections to plain `http://` on a loopback address (`--insecure-loopback`). */
export function loopbackOpener(url: string): Opener {
  const u = new URL(url);
  const where = `${u.host}`;
  return async (events) => {
    const wsUrl = `ws://${u.host}${PATH}`;
    if (isBun()) return fromBunWs(wsUrl, events, where);
    const W = await loadWs();
    return fromNodeWs(new W(wsUrl, { perMessageDeflate: false }), events, where);
  };
}
