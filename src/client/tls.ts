/**
 * HTTPS to a hush controller with the server key pinned (no CA needed): the
 * pin is the SHA-256 of the server's SubjectPublicKeyInfo, carried in join
 * tokens and credentials (PROTOCOL.md §2), in curl's `sha256//…` form.
 *
 * Bun's fetch never calls checkServerIdentity when certificate validation is
 * off (BUN-NOTES), so the pin is checked on a node:tls socket at
 * `secureConnect`, before a single byte of the request is written; only then
 * is the socket handed to node:http. A mismatch destroys the socket and
 * names both pins.
 * @module
 */
import { connect, type TLSSocket } from "node:tls";
import { request } from "node:http";
import { HushError } from "../errors.ts";
import { equalBytes, formatPin, spkiOfCertificate, spkiPin } from "../crypto/index.ts";
import { sendNodeRequest, type Transport } from "./transport.ts";

/** A TLS socket to host:port whose server key matches `pin` (checked before anything is written). */
export function openPinned(host: string, port: number, pin: Uint8Array, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, rejectUnauthorized: false, minVersion: "TLSv1.2" });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new HushError("unavailable", `TLS connection to ${host}:${port} timed out`, { connect: true, sent: false }));
    }, timeoutMs);
    sock.once("error", (e: any) => {
      clearTimeout(timer);
      reject(new HushError("unavailable", `cannot reach the hush controller at ${host}:${port} (${e?.code ?? e?.message ?? e})`, { connect: true, sent: false }));
    });
    sock.once("secureConnect", () => {
      clearTimeout(timer);
      let seen: Uint8Array | undefined;
      try {
        const raw = sock.getPeerCertificate(true)?.raw;
        if (raw) seen = spkiPin(spkiOfCertificate(new Uint8Array(raw)));
      } catch {}
      if (!seen || !equalBytes(seen, pin)) {
        sock.destroy();
        reject(
          new HushError(
            "auth_failed",
            `TLS pin mismatch for ${host}:${port}: expected ${formatPin(pin)}, the server presented ${seen ? formatPin(seen) : "no usable certificate"}`,
            { pinMismatch: true },
          ),
        );
        return;
      }
      resolve(sock);
    });
  });
}

/** A transport to `https://HOST:PORT` that refuses any server whose key does not match `pin`. */
export function createTlsTransport(url: string, pin: Uint8Array, opts: { timeoutMs?: number } = {}): Transport {
  const u = new URL(url);
  if (u.protocol !== "https:") throw new HushError("invalid_request", "TLS transport needs an https:// URL");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port || 443);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    async request(method, target, headers, body) {
      const sock = await openPinned(host, port, pin, timeoutMs);
      return await sendNodeRequest(
        request,
        { host, port, method, path: target, headers: { host: u.host, connection: "close", ...headers }, createConnection: () => sock as any, timeout: timeoutMs },
        body,
        // The pinned connection was made: the request may have been written.
        (e) => new HushError("unavailable", `the connection to ${u.host} failed after the request was sent (${e?.code ?? e?.message ?? e}); it may have been carried out`, { sent: true }),
      );
    },
    close() {},
  };
}

/** Plain HTTP over TCP: only for loopback controllers started with --insecure-loopback. */
export function createLoopbackTransport(url: string, opts: { timeoutMs?: number } = {}): Transport {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (u.protocol !== "http:" || !isLoopback(host)) throw new HushError("invalid_request", "plain http:// is allowed only to a loopback address");
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    async request(method, target, headers, body) {
      const res = await fetch(`http://${u.host}${target}`, { method, headers, body: body ?? null, signal: AbortSignal.timeout(timeoutMs) }).catch((e) => {
        const code = e?.code ?? e?.cause?.code;
        // Only a refused connection proves that nothing was sent.
        if (code === "ConnectionRefused" || code === "ECONNREFUSED") throw new HushError("unavailable", `cannot reach ${u.host} (${code})`, { connect: true, sent: false });
        throw new HushError("unavailable", `the request to ${u.host} failed (${code ?? e?.message ?? e}); it may have been carried out`, { sent: true });
      });
      const text = await res.text();
      return { status: res.status, header: (n) => res.headers.get(n), body: text };
    },
    close() {},
  };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
