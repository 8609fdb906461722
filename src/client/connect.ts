/**
 * Where the SDK's requests go: the unix socket, or a controller URL (HTTPS
 * pinned to the server's key; plain HTTP only to loopback), over WebSocket
 * connections or one HTTP request per call.
 * @module
 */
import { HushError } from "../errors.ts";
import { parsePin } from "../crypto/index.ts";
import { defaultSocketPath } from "../config/index.ts";
import { createUnixTransport, type Transport } from "./transport.ts";
import { createLoopbackTransport, createTlsTransport } from "./tls.ts";
import { createWsTransport } from "./transport-ws.ts";
import { loopbackOpener, tlsOpener, unixOpener } from "./ws-open.ts";
import type { ClientOptions, TransportKind } from "./options.ts";

export type { TransportKind };

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
