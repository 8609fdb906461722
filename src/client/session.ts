/**
 * The signed channel under the SDK's `Client`: signs every request with the
 * worker's current key (PROTOCOL.md §3), verifies every answer's signature
 * (§4), raises the typed error an error answer carries, and rotates the key
 * (§6) at half of its lifetime or when the daemon answers `rekey_required`.
 * The typed API on top of it is client.ts; where requests go is connect.ts.
 * @module
 */
import { HushError } from "../errors.ts";
import { equalBytes, equalStrings } from "../crypto/index.ts";
import { signRequest, signResponse } from "../auth/index.ts";
import { decodeServerPublic, encodeCredential, type Credential } from "../keys/index.ts";
import { isPlainTarget } from "../wire/target.ts";
import type { Transport } from "./transport.ts";
import { raiseFromResponse } from "./errors.ts";
import { startHandshake } from "./join.ts";
import type { Compressor, Encoded } from "./compress.ts";

/** How often `rekey` sends its rekey when the answers are lost (PROTOCOL.md §6). */
export const REKEY_ATTEMPTS = 3;

/** One verified answer, with the request signature and the key that made it (checkout opens with both). */
export interface Exchanged<T> {
  data: T;
  signature: string;
  cred: Credential;
}

/** `path` as a URL parser normalises it (`pathname + search`): what the daemon checks and the signature covers. */
function normalTarget(path: string): string {
  const url = new URL(path, "http://localhost");
  return url.pathname + url.search;
}

export function closedError(): HushError {
  return new HushError("invalid_request", "this hush client is closed (close() was called); make a new Client", { closed: true });
}

export class SignedSession {
  private rekeyAfter = Infinity;
  private rekeying: Promise<void> | null = null;
  closed = false;

  constructor(
    private cred: Credential,
    readonly transport: Transport,
    private readonly autoRekey: boolean,
    private readonly onRekey: ((credential: string) => void) | undefined,
    private readonly compressor?: Compressor | undefined,
  ) {}

  get keyId(): string {
    return this.cred.keyId;
  }

  /** The current credential string (it changes after a rekey). */
  get credential(): string {
    return encodeCredential(this.cred);
  }

  /** Send a signed request; verify the signed answer; return its JSON. */
  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.exchangeRekeying<T>(method, path, body)).data;
  }

  /**
   * One signed round trip, rotating the key first when it is due and once
   * more when the daemon answers `rekey_required` (autoRekey only).
   */
  async exchangeRekeying<T>(method: string, path: string, body?: unknown): Promise<Exchanged<T>> {
    if (this.closed) throw closedError();
    if (this.autoRekey && Date.now() >= this.rekeyAfter && path !== "/v1/rekey") await this.rekey();
    try {
      return await this.exchange<T>(method, path, body);
    } catch (e) {
      if (!(this.autoRekey && e instanceof HushError && e.code === "rekey_required")) throw e;
      await this.rekey();
      return await this.exchange<T>(method, path, body);
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
      const who = (await this.exchange<{ server_public: string }>("GET", "/v1/whoami")).data;
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
      await this.exchange("GET", "/v1/whoami");
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
        const r = await this.exchange<{ msg: string }>("POST", "/v1/rekey", { msg: hs.msg });
        return { hs, msg: r.data.msg };
      } catch (e) {
        if (!(e instanceof HushError && e.code === "unavailable") || attempt >= REKEY_ATTEMPTS) throw e;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  /** One signed round trip; also returns the request signature and the key that made it. */
  async exchange<T>(method: string, path: string, body?: unknown): Promise<Exchanged<T>> {
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

  /** Drop pooled connections and wipe the key material. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.close();
    this.cred.macKey.fill(0);
    this.cred.encKey.fill(0);
  }
}
