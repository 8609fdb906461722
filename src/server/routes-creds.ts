/**
 * Credential checkout and return (PROTOCOL.md §7, §8) and the admin routes
 * that manage credentials. A checked-out value is sealed to the worker:
 *
 *   sealed = b64u(nonce(12) ‖ ChaCha20-Poly1305(enc key, nonce, plaintext, aad))
 *   aad    = ASCII of the request's Signature;  plaintext = {"name","value","version"}
 *
 * so the secret never crosses the wire in clear, TLS or not, and a sealed
 * answer cannot be replayed into another request. Admin answers never carry
 * a value.
 * @module
 */
import { HushError } from "../errors.ts";
import { concatBytes, fromUtf8, randomBytes, sealChaCha, toB64u, utf8, wipe } from "../crypto/index.ts";
import type { State } from "./state.ts";
import { auditHash } from "../audit/index.ts";
import { type Answer, decodeSegment, ok, optInt, parseObject } from "./http.ts";
import type { Ctx } from "./pipeline.ts";
import { maskOwner } from "./masking.ts";

/** Seal a value to a worker's enc key, bound to the request signature. */
export function sealValue(encKey: Uint8Array, signature: string, name: string, value: Uint8Array, version: number): string {
  const nonce = randomBytes(12);
  const plain = utf8(`{"name":${JSON.stringify(name)},"value":${JSON.stringify(fromUtf8(value))},"version":${version}}`);
  try {
    return toB64u(concatBytes(nonce, sealChaCha(encKey, nonce, plain, utf8(signature))));
  } finally {
    wipe(plain);
  }
}

/** Fail closed: nothing that reveals or changes a secret happens while the audit sink cannot write. */
export function requireAudit(st: State): void {
  if (!st.audit.healthy) throw new HushError("unavailable", "the audit log cannot be written; refusing until it recovers");
}

/**
 * The enc key of the generation that signed the request: during a rekey's
 * grace period a request signed with the previous key gets its answer
 * sealed to the previous enc key, which that client still holds.
 */
function encKeyOf(c: Ctx): Uint8Array {
  const key = c.key!;
  return c.generation === "previous" && key.prevEncKey ? key.prevEncKey : key.encKey;
}

/** `POST /v1/creds/leases/{lease_id}/return` */
export function credReturn(c: Ctx): Answer {
  const { st, corrId } = c;
  const key = c.key!;
  const leaseId = decodeSegment(c.parts[4], "lease id");
  requireAudit(st);
  const r = st.creds.giveBack(leaseId, key.id);
  st.audit.record({ actor: key.id, via: "worker", action: "cred.return", target: r.cred, result: "ok", corr_id: corrId });
  return ok({ returned: true });
}

/** `POST /v1/creds/{name}/checkout`: the value sealed to the worker, audited as an HMAC only. */
export function credCheckout(c: Ctx): Answer {
  const { st, corrId } = c;
  const key = c.key!;
  const name = decodeSegment(c.parts[3], "credential name");
  const b = parseObject(c.body);
  requireAudit(st);
  let co;
  try {
    co = st.creds.checkout(name, key.id, key.tags, optInt(b, "ttl_ms"));
  } catch (e) {
    if (e instanceof HushError) {
      const result = e.code === "forbidden" ? "denied" : "error";
      st.audit.record({ actor: key.id, via: "worker", action: "cred.checkout", target: name, result, reason: e.code, corr_id: corrId });
    }
    throw e;
  }
  const sealed = sealValue(encKeyOf(c), c.signature, name, co.value, co.version);
  // The value given out appears only as an HMAC (e.g. which worker held which pooled account).
  st.audit.record({ actor: key.id, via: "worker", action: "cred.checkout", target: name, result: "ok", corr_id: corrId, value_hash: auditHash(co.value, st.auditHmacKey) });
  // Fail closed even for the request during which the audit file first fails: no record, no secret.
  if (!st.audit.healthy) {
    st.creds.giveBack(co.leaseId, key.id);
    throw new HushError("unavailable", "the audit log cannot be written; refusing until it recovers");
  }
  return ok({ lease_id: co.leaseId, expires_at: co.expiresAt, sealed, version: co.version, mode: co.mode });
}

/** Split a body's values into byte buffers (the caller's strings cannot be wiped; the copies can). */
function valuesOf(b: Record<string, unknown>): Uint8Array[] {
  const v = b.values ?? (b.value !== undefined ? [b.value] : undefined);
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new HushError("invalid_request", "values must be a list of strings");
  return (v as string[]).map((x) => utf8(x));
}

/** `GET /v1/admin/creds`: names and settings, never values. */
export function adminCredsList(c: Ctx): Answer {
  return ok({ creds: c.st.creds.list() });
}

/** `POST /v1/admin/creds`: create or replace; each value audited as an HMAC; fails closed. */
export function adminCredsPut(c: Ctx): Answer {
  const { st, actor, corrId } = c;
  const b = parseObject(c.body);
  if (typeof b.name !== "string") throw new HushError("invalid_request", "name is required");
  requireAudit(st);
  const values = valuesOf(b);
  let info;
  try {
    info = st.creds.put(b.name, values, { allow: b.allow, mode: b.mode, source: "admin" });
  } catch (e) {
    wipe(...values);
    throw e;
  }
  // The values replaced (if any) are wiped; the new ones are masked until deleted or replaced.
  st.masker.release(maskOwner.cred(info.name));
  for (const v of values) st.masker.add(fromUtf8(v), { owner: maskOwner.cred(info.name) });
  for (const v of values) st.audit.record({ actor, via: "admin", action: "cred.put", target: info.name, result: "ok", corr_id: corrId, value_hash: auditHash(v, st.auditHmacKey) });
  st.log.info("credential stored", { name: info.name, mode: info.mode, values: info.values, actor });
  return ok(info, 201);
}

/** `DELETE /v1/admin/creds/{name}`: fails closed. */
export function adminCredsDelete(c: Ctx): Answer {
  const { st, actor, corrId } = c;
  const name = decodeSegment(c.parts[4], "credential name");
  requireAudit(st);
  const info = st.creds.delete(name);
  st.masker.release(maskOwner.cred(name));
  st.audit.record({ actor, via: "admin", action: "cred.delete", target: name, result: "ok", corr_id: corrId });
  st.log.info("credential deleted", { name, actor });
  return ok(info);
}
