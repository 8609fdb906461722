/**
 * The byte stream of `GET /v1/admin/audit` for `hush audit tail`: from
 * admin.sock (the OS user is the admin), or signed with an admin credential
 * on hush.sock (`--socket`, or a `unix:/PATH` address) or on a controller's
 * TLS port (`--url https://…`, the server's key pinned as for every other
 * command). @module
 */
import { request } from "node:http";
import { HushError } from "../../src/errors.ts";
import { adminSocketPath } from "../../src/config/index.ts";
import { decodeCredential, parseKeyFile } from "../../src/keys/index.ts";
import { parsePin } from "../../src/crypto/index.ts";
import { signRequest } from "../../src/auth/index.ts";
import { raiseFromResponse } from "../../src/client/errors.ts";
import { openPinned } from "../../src/client/tls.ts";
import { checkedSocketPath } from "../../src/client/transport.ts";
import { socketOwner } from "../_shared.ts";
import { readAdminCredential } from "../_credentials.ts";
import { refuseUrlOnAdminSocket, resolveTarget } from "../_target.ts";

export interface StreamArgs {
  socket?: string;
  "socket-owner"?: string;
  url?: string;
  "tls-pin"?: string;
  "admin-credential-file"?: string;
}

type Chunks = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/** Open the stream; HTTP errors are raised as the daemon's HushError. */
export async function openAuditStream(args: StreamArgs, target: string, signal: AbortSignal): Promise<Chunks> {
  const credText = readAdminCredential(args);
  const to = resolveTarget(args, "admin");
  if (!credText) refuseUrlOnAdminSocket(to);
  const url = "url" in to ? to.url : undefined;
  if (url?.includes(",")) {
    throw new HushError("invalid_request", `${(to as { from: string }).from} lists several daemons, but each daemon keeps its own audit log`, { hint: `pass one of them: --url ${url.split(",")[0]}` });
  }
  // A unix: address is a daemon's hush.sock: signed there, as with --socket.
  const unix = url?.startsWith("unix:") ? url.slice(5) : undefined;
  const headers: Record<string, string> = {};
  let credPin: Uint8Array | undefined;
  if (credText) {
    const cred = decodeCredential(parseKeyFile(credText));
    headers.authorization = signRequest(cred.macKey, cred.keyId, { method: "GET", target }).authorization;
    credPin = cred.tlsPin;
    cred.macKey.fill(0), cred.encKey.fill(0);
  }
  if (url && !unix) return openTls(url, args["tls-pin"] || process.env.HUSH_TLS_PIN, credPin, target, headers, signal);
  const socket = unix ?? (to as { socket: string }).socket;
  const path = credText ? socket : adminSocketPath(socket);
  const via = checkedSocketPath(path, socketOwner(args)); // the socket is checked before a byte is sent
  let res: Response;
  try {
    res = await fetch("http://localhost" + target, { headers, unix: via, signal } as RequestInit);
  } catch (e: any) {
    throw new HushError("unavailable", `cannot reach the hush daemon at ${path} (${e?.code ?? e?.message ?? e})`, { connect: true });
  }
  if (res.status >= 400 || !res.body) {
    const body = await res.text();
    raiseFromResponse({ status: res.status, header: (n) => res.headers.get(n), body });
  }
  return res.body!;
}

/** GET over TLS with the server's key pinned; resolves to the answer's body once its status is known. */
async function openTls(url: string, override: string | undefined, credPin: Uint8Array | undefined, target: string, headers: Record<string, string>, signal: AbortSignal): Promise<Chunks> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HushError("invalid_request", `not a URL: ${url}`);
  }
  if (u.protocol !== "https:") throw new HushError("invalid_request", "audit tail --url needs https://HOST:PORT");
  const pin = override ? parsePin(override) : credPin;
  if (!pin) throw new HushError("invalid_request", override ? "--tls-pin must look like sha256//BASE64" : "no TLS pin: this admin credential was not made by a TLS controller; pass --tls-pin sha256//…");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port || 443);
  const sock = await openPinned(host, port, pin, 10_000);
  return await new Promise<Chunks>((resolve, reject) => {
    const req = request({ host, port, method: "GET", path: target, headers: { host: u.host, ...headers }, createConnection: () => sock as any }, (res) => {
      if ((res.statusCode ?? 0) < 400) return resolve(res);
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        try {
          raiseFromResponse({ status: res.statusCode ?? 0, header: (n) => (res.headers[n.toLowerCase()] as string | undefined) ?? null, body: Buffer.concat(chunks).toString("utf8") });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on("error", (e: any) => reject(new HushError("unavailable", `request to ${u.host} failed (${e?.code ?? e?.message ?? e})`, { connect: true })));
    signal.addEventListener("abort", () => (req.destroy(), sock.destroy()), { once: true });
    req.end();
  });
}
