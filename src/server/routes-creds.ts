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
import { after, type Checkout, type CredInfo } from "../broker/index.ts";
import { auditHash } from "../audit/index.ts";
import { type Answer, decodeSegment, ok, optInt, parseObject } from "./http.ts";
import type { Ctx } from "./pipeline.ts";
import { maskOwner } from "./masking.ts";
import { requireAudit, runChange } from "./change.ts";

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

/**
 * The enc key of the generation that signed the request: during a rekey's
 * grace period a request signed with the previous key gets its answer
 * sealed to the previous enc key, which that client still holds.
 */
function encKeyOf(c: Ctx): Uint8Array {
  const key = c.key!;
  return c.generation === "previous" && key.prevEncKey ? key.prevEncKey : key.encKey;
}

/** `POST /v1/creds/leases/{lease_id}/return`: recorded first, then returned (the value is free for others at once). */
export function credReturn(c: Ctx): Answer | Promise<Answer> {
  const { st } = c;
  const key = c.key!;
  const leaseId = decodeSegment(c.parts[4], "lease id");
  return runChange(c, {
    apply: () => st.checkouts.checkGiveBack(leaseId, key.id),
    records: (cred) => [{ action: "cred.return", target: cred }],
    commit: () => after(st.checkouts.giveBack(leaseId, key.id), () => {}),
    answer: () => ok({ returned: true }),
  });
}

/**
 * `POST /v1/creds/{name}/checkout`: the value sealed to the worker, audited
 * as an HMAC only. No record, no secret: a lease whose record cannot be
 * written is returned at once. Refusals are audited (`denied` for policy,
 * `error` otherwise).
 */
export function credCheckout(c: Ctx): Answer | Promise<Answer> {
  const { st, corrId } = c;
  const key = c.key!;
  const name = decodeSegment(c.parts[3], "credential name");
  const b = parseObject(c.body);
  const refused = (e: unknown): never => {
    if (e instanceof HushError) {
      const result = e.code === "forbidden" ? "denied" : "error";
      st.audit.record({ actor: key.id, via: "worker", action: "cred.checkout", target: name, result, reason: e.code, corr_id: corrId });
    }
    throw e;
  };
  const giveBack = (co: Checkout) => after(st.checkouts.giveBack(co.leaseId, key.id), () => {});
  const sealed = (co: Checkout) => {
    try {
      return { co, sealed: sealValue(encKeyOf(c), c.signature, name, co.value, co.version) };
    } catch (e) {
      void giveBack(co);
      throw e;
    }
  };
  return runChange(c, {
    apply: () => {
      let co: Checkout | Promise<Checkout>;
      try {
        co = st.checkouts.checkout(name, key.id, key.tags, optInt(b, "ttl_ms"));
      } catch (e) {
        return refused(e);
      }
      // Sealed as soon as the lease is granted, before anything else can replace the value.
      return co instanceof Promise ? co.then(sealed, refused) : sealed(co);
    },
    undo: ({ co }) => giveBack(co),
    // The value given out appears only as an HMAC (e.g. which worker held which pooled account).
    records: ({ co }) => [{ action: "cred.checkout", target: name, value_hash: auditHash(co.value, st.auditHmacKey) }],
    answer: ({ co, sealed }) => ok({ lease_id: co.leaseId, expires_at: co.expiresAt, sealed, version: co.version, mode: co.mode }),
  });
}

/** Split a body's values into byte buffers (the caller's strings cannot be wiped; the copies can). */
function valuesOf(b: Record<string, unknown>): Uint8Array[] {
  const v = b.values ?? (b.value !== undefined ? [b.value] : undefined);
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new HushError("invalid_request", "values must be a list of strings");
  return (v as string[]).map((x) => utf8(x));
}

/** `GET /v1/admin/creds`: names and settings, never values. */
export function adminCredsList(c: Ctx): Answer | Promise<Answer> {
  return after(c.st.checkouts.listInUse(), (creds) => ok({ creds }));
}

/** `POST /v1/admin/creds`: create or replace; each value audited as an HMAC; recorded first, then stored (a replacement wipes the old values). */
export function adminCredsPut(c: Ctx): Answer | Promise<Answer> {
  const { st, actor } = c;
  const b = parseObject(c.body);
  if (typeof b.name !== "string") throw new HushError("invalid_request", "name is required");
  const name = b.name;
  const opts = { allow: b.allow, mode: b.mode, source: "admin" };
  requireAudit(st.audit);
  const values = valuesOf(b);
  let stored = false;
  try {
    return runChange(c, {
      apply: () => ({ ...st.creds.checkPut(name, values, opts), info: undefined as CredInfo | undefined }),
      log: ({ mode }) => st.log.info("credential stored", { name, mode, values: values.length, actor }),
      records: () => values.map((v) => ({ action: "cred.put", target: name, value_hash: auditHash(v, st.auditHmacKey) })),
      commit: (r) => {
        stored = true;
        // The values replaced (if any) are wiped; the new ones are masked until deleted or replaced.
        r.info = st.creds.put(name, values, opts);
        st.masker.release(maskOwner.cred(name));
        for (const v of values) st.masker.add(fromUtf8(v), { owner: maskOwner.cred(name) });
      },
      answer: (r) => ok(r.info, 201),
    });
  } finally {
    if (!stored) wipe(...values);
  }
}

/** `DELETE /v1/admin/creds/{name}`: recorded first, then deleted (its values wiped). */
export function adminCredsDelete(c: Ctx): Answer | Promise<Answer> {
  const { st, actor } = c;
  const name = decodeSegment(c.parts[4], "credential name");
  return runChange(c, {
    apply: () => {
      const info = st.creds.list().find((i) => i.name === name);
      if (!info) throw new HushError("not_found", "no such credential");
      return info;
    },
    log: () => st.log.info("credential deleted", { name, actor }),
    records: () => [{ action: "cred.delete", target: name }],
    commit: () => {
      st.creds.delete(name);
      st.masker.release(maskOwner.cred(name));
    },
    answer: (info) => ok(info),
  });
}
