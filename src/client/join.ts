/**
 * The initiator side of join (PROTOCOL.md §5) and rekey (§6): a Noise
 * NKpsk0 handshake that turns a join token (or the current mac key) into a
 * fresh pair of per-worker keys. The PSK never crosses the wire.
 * @module
 */
import { HushError } from "../errors.ts";
import { fromB64u, fromUtf8, toB64u, utf8 } from "../crypto/index.ts";
import { createInitiator } from "../noise/index.ts";
import { decodeJoinToken, encodeCredential, parseKeyFile, type Credential } from "../keys/index.ts";
import { raiseFromResponse } from "./errors.ts";
import type { Transport } from "./transport.ts";

export interface JoinResult {
  credential: string;
  id: string;
  expiresAt: number;
  tags: string[];
  serverTime: number;
}

export interface HandshakeReply {
  id: string;
  expires_at: number;
  tags: string[];
  server_time: number;
}

/** Build message 1; `finish` reads message 2 and returns the payload and the new keys. */
export function startHandshake(remoteStatic: Uint8Array, psk: Uint8Array, prologue: string, payload: Record<string, unknown>) {
  const init = createInitiator({ remoteStatic, psk, prologue: utf8(prologue) });
  const msg = toB64u(init.writeMessage1(utf8(JSON.stringify(payload))));
  return {
    msg,
    finish(reply: string): { payload: HandshakeReply; macKey: Uint8Array; encKey: Uint8Array } {
      let m2: ReturnType<typeof init.readMessage2>;
      try {
        m2 = init.readMessage2(fromB64u(reply));
      } catch {
        throw new HushError("auth_failed", "the server's handshake reply did not verify (wrong server key?)");
      }
      const macKey = m2.c1.key;
      const encKey = m2.c2.key;
      m2.c1.wipe();
      m2.c2.wipe();
      let payload: HandshakeReply;
      try {
        payload = JSON.parse(fromUtf8(m2.payload));
      } catch {
        throw new HushError("internal", "the server's handshake reply carried a malformed payload");
      }
      return { payload, macKey, encKey };
    },
  };
}

/** Join with a `HUSH-JOIN-1…` token; returns the new worker credential. */
export async function joinWithToken(transport: Transport, tokenString: string, name: string): Promise<JoinResult> {
  const token = decodeJoinToken(parseKeyFile(tokenString));
  const hs = startHandshake(token.serverPublic, token.psk, `hush/1 join\n${token.tokenId}`, { name, ts: Date.now() });
  token.psk.fill(0);
  const body = JSON.stringify({ token_id: token.tokenId, msg: hs.msg });
  const res = await transport.request("POST", "/v1/join", { "content-type": "application/json" }, body);
  if (res.status !== 200) raiseFromResponse(res);
  const { payload, macKey, encKey } = hs.finish(JSON.parse(res.body).msg);
  const cred: Credential = { kind: "worker", keyId: payload.id, macKey, encKey, serverPublic: token.serverPublic, tlsPin: token.tlsPin };
  const credential = encodeCredential(cred);
  macKey.fill(0);
  encKey.fill(0);
  return { credential, id: payload.id, expiresAt: payload.expires_at, tags: payload.tags, serverTime: payload.server_time };
}
