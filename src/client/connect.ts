/**
 * Where the SDK's requests go: the unix socket, or one or several daemon
 * addresses (addresses.ts; HTTPS pinned to the server's key, plain HTTP only
 * to loopback, or unix sockets), over WebSocket connections or one HTTP
 * request per call; several addresses fail over (failover.ts).
 * @module
 */
import { HushError } from "../errors.ts";
import { parsePin } from "../crypto/index.ts";
import { defaultSocketPath } from "../config/index.ts";
import { createUnixTransport, type Transport } from "./transport.ts";
import { createLoopbackTransport, createTlsTransport } from "./tls.ts";
import { createWsTransport, DEFAULT_UNIX_CONNECTIONS } from "./transport-ws.ts";
import { loopbackOpener, tlsOpener, unixOpener } from "./ws-open.ts";
import { createFailoverTransport } from "./failover.ts";
import { describeAddress, parseAddresses, type Address } from "./addresses.ts";
import type { ClientOptions, TransportKind } from "./options.ts";

export type { TransportKind };

/** `opts.transport`, else HUSH_TRANSPORT, else "ws". Throws HushError `invalid_request` for anything else. */
export function transportKind(opts: { transport?: string | undefined }, env: Record<string, string | undefined> = process.env): TransportKind {
  const k = opts.transport ?? (env.HUSH_TRANSPORT || "ws");
  if (k !== "ws" && k !== "http") throw new HushError("invalid_request", `transport must be "ws" or "http" (HUSH_TRANSPORT), got ${JSON.stringify(k)}`);
  return k;
}

/**
 * The daemon addresses a client uses, in order (addresses.ts): `opts.url`,
 * else HUSH_URL, else — when neither `opts.socket` nor HUSH_SOCKET names a
 * socket — the `# addresses:` line of the credential's key file
 * (`fileAddresses`). Undefined: the unix socket (`opts.socket`, else the
 * default path). `opts.url === ""` means "no URL" (the CLI's --socket).
 * Throws HushError `invalid_request` for a malformed list.
 */
export function addressList(opts: ClientOptions, fileAddresses?: string): Address[] | undefined {
  const url = opts.url ?? process.env.HUSH_URL;
  if (url) return parseAddresses(url, opts.url !== undefined ? "url" : "HUSH_URL");
  if (url === undefined && opts.socket === undefined && !process.env.HUSH_SOCKET && fileAddresses) return parseAddresses(fileAddresses, "the key file's # addresses line");
  return undefined;
}

/**
 * The unix socket, or HTTPS pinned to the server's key (plain HTTP only to
 * loopback); over WebSocket connections unless `transport` (or
 * HUSH_TRANSPORT) is "http". A WebSocket transport falls back to HTTP for a
 * while when the daemon refuses the upgrade (transport-ws.ts `FALLBACK_MS`).
 * Several addresses (`addressList`) give a failover transport (failover.ts)
 * over one such transport per address, each checked against the same pin.
 */
export function pickTransport(opts: ClientOptions, credentialPin?: Uint8Array, fileAddresses?: string): Transport {
  const list = addressList(opts, fileAddresses);
  if (!list) return addressTransport({ kind: "unix", path: opts.socket ?? defaultSocketPath(), text: "" }, opts, credentialPin);
  if (list.length === 1) return addressTransport(list[0]!, opts, credentialPin);
  // Each address fails at once when it cannot be reached; the failover transport retries the rounds.
  const one = { ...opts, retries: 0 };
  const members = list.map((a) => ({ what: describeAddress(a), transport: addressTransport(a, one, credentialPin) }));
  return createFailoverTransport(members, { retries: opts.retries });
}

/** The TLS pin for https:// addresses: `tlsPin` (or HUSH_TLS_PIN), else the credential's. */
function pinFor(opts: ClientOptions, credentialPin: Uint8Array | undefined): Uint8Array {
  const override = opts.tlsPin ?? process.env.HUSH_TLS_PIN;
  const pin = override ? parsePin(override) : credentialPin;
  if (!pin) {
    throw new HushError(
      "invalid_request",
      override ? "tlsPin must look like sha256//BASE64 (44 characters)" : "no TLS pin: this credential or token was not made by a TLS controller; pass the controller's pin (sha256//…)",
    );
  }
  return pin;
}

/** The transport to one daemon. */
function addressTransport(a: Address, opts: ClientOptions, credentialPin: Uint8Array | undefined): Transport {
  const ws = transportKind(opts) === "ws";
  if (a.kind === "unix") {
    const http = createUnixTransport(a.path, opts);
    const connections = opts.connections ?? DEFAULT_UNIX_CONNECTIONS;
    return ws ? createWsTransport(unixOpener(a.path, opts.socketOwner), describeAddress(a), { ...opts, connections, fallback: http }) : http;
  }
  if (a.kind === "https") {
    const pin = pinFor(opts, credentialPin);
    const http = createTlsTransport(a.url, pin, opts);
    return ws ? createWsTransport(tlsOpener(a.url, pin, opts.timeoutMs ?? 10_000), describeAddress(a), { ...opts, fallback: http }) : http;
  }
  const t = createLoopbackTransport(a.url, opts); // checks that the host is a loopback address
  return ws ? createWsTransport(loopbackOpener(a.url), a.host, { ...opts, fallback: t }) : t;
}
