/**
 * The stages that decide who is asking and what they may do (pipeline.ts):
 *
 * - hush.sock and TCP: `join` (the one unsigned route with a body) →
 *   `authenticate` (PROTOCOL.md §3) → `sign` (§4) → `rate` (per key) →
 *   `route` (rekey gate, role gate, the table, error mapping).
 * - admin.sock: `adminListener` (the admin rows; nothing is signed).
 *
 * Invariant 4: every route except health, ready and join is authenticated
 * on hush.sock and TCP; a failure answers the generic `auth_failed`, the
 * precise reason goes to logs, metrics and the audit log only.
 * @module
 */
import { HushError } from "../errors.ts";
import { hashBody, signResponseWith, type KeyGeneration, type VerifyResult } from "../auth/index.ts";
import { macState } from "../crypto/index.ts";
import type { KeyRecord } from "../broker/index.ts";
import { answerError, fail, type Answer } from "./http.ts";
import type { Ctx, Next, Stage } from "./pipeline.ts";
import { answerLater, answerWith } from "./stages.ts";
import { compileRoutes, matchRoute, type Area, type Role, type Route } from "./routes.ts";
import { auditAdminChange, isAdminChange } from "./routes-admin.ts";
import { settleRekey } from "./rekey.ts";
import { recordFailure } from "./failures.ts";
import { logQuietly } from "./change.ts";

/** `POST /v1/join` (the `join` row): answered unsigned; everything else goes on to authentication. */
export function join(routes: readonly Route[]): Stage {
  const table = compileRoutes(routes, ["join"]);
  return function join(c, next) {
    const hit = matchRoute(table.get(c.area), c.parts, c.req.method);
    if (typeof hit !== "object") return next(c);
    c.active = true;
    return answerWith(c, hit);
  };
}

/**
 * Verify the request signature (§3 steps 1–7), confirm a pending rekey key
 * or lock a worker whose superseded one signed (§6), and refuse a retired
 * MAC key except for a rekey (step 8, which trips clone detection). Sets `c.key`,
 * `c.actor`, `c.signature`, `c.generation` and `c.mac`: an HMAC keyed with
 * the key that signed the request, which signs the answer even if the
 * handler rekeys (replacing key.macKey) or revokes (zero-filling it) the key.
 */
export function authenticate(): Stage {
  return function authenticate(c, next) {
    const v = c.st.verifier.verify(c.req.method, c.req.target!, c.req.authorization, hashBody(c.body));
    // A shared replay cache answers later; its `unavailable` goes to `observe` (unsigned: nothing was accepted).
    return v instanceof Promise ? authenticateLater(c, v, next) : verified(c, v, next);
  };
}

async function authenticateLater(c: Ctx, p: Promise<VerifyResult<KeyRecord>>, next: Next): Promise<void> {
  const v = await p;
  // Revoked while the replay cache answered: its MAC keys may already be zero-filled.
  return verified(c, v.ok && v.key.revokedAt !== null ? { ok: false, reason: "revoked", keyId: v.keyId } : v, next);
}

function verified(c: Ctx, v: VerifyResult<KeyRecord>, next: Next): Promise<void> | void {
  if (!v.ok) return refuse(c, v.reason, v.keyId);
  const key = v.key;
  // A pending key's first use confirms it; a superseded one locks the worker (rekey.ts, §6).
  const generation = v.generation === "pending" || v.generation === "superseded" ? settleRekey(c, key, v.generation) : v.generation;
  if (generation === null) return;
  // Keys shared by several daemons: a confirmed rekey is in the backend before the request is served.
  const shared = v.generation === "pending" ? c.st.registry.flush() : undefined;
  if (shared) return shared.then(() => accepted(c, v, generation, next));
  return accepted(c, v, generation, next);
}

function accepted(c: Ctx, v: VerifyResult<KeyRecord> & { ok: true }, generation: KeyGeneration, next: Next): Promise<void> | void {
  const key = v.key;
  if (generation === "retired" && c.label !== "rekey") return refuse(c, "retired_key", key.id);
  key.lastSeenAt = Date.now();
  c.key = key;
  c.actor = key.id;
  c.signature = v.signature;
  c.generation = generation;
  c.mac = macState(v.macKey).fork();
  return next(c);
}

/**
 * A request that failed verification: counted by reason, accounted per
 * source (src/server/failures.ts: the log and audit lines it may cause are
 * bounded whatever the key ids), and answered `auth_failed`, or
 * `rate_limited` once its source has failed too often. Only a request that
 * has already failed is ever refused for its source, so a flood never turns
 * away one that verifies. A full replay cache is the daemon's limit, not the
 * caller's fault: `busy`, not charged.
 */
function refuse(c: Ctx, reason: string, keyId: string | undefined): void {
  const { st, m, corrId } = c;
  m.authFailures.inc({ reason });
  if (reason === "nonce_cache_full") {
    recordFailure(st, { action: "auth", reason, peer: c.req.peer, corrId, keyId, target: c.label });
    c.answer = fail("busy", "replay cache full, try again", corrId);
    return;
  }
  const wait = st.failures.take(c.req.peer);
  recordFailure(st, { action: "auth", reason, peer: c.req.peer, corrId, keyId, target: c.label, limited: wait > 0 });
  if (wait > 0) {
    m.rejected.inc({ reason: "auth_rate" });
    c.answer = fail("rate_limited", "too many failed requests from this source", corrId, { "retry-after": String(wait) });
  } else c.answer = fail("auth_failed", "authentication failed", corrId);
}

/**
 * Sign whatever answer comes back (§4): `Hush-Signature` over status and
 * body with the MAC key that signed the request (the HMAC keyed when it
 * verified), and, once routed, the `Hush-Rekey-After` half-life hint while
 * a rekey could still extend the key. The audit stream is not signed.
 */
export function sign(): Stage {
  return function sign(c, next) {
    const r = next(c);
    if (r) return signLater(c, r);
    signAnswer(c);
  };
}

async function signLater(c: Ctx, p: Promise<void>): Promise<void> {
  await p;
  signAnswer(c);
}

function signAnswer(c: Ctx): void {
  const a = c.answer!;
  const mac = c.mac!;
  c.mac = undefined;
  if (a.kind === "stream") return;
  const h = (a.headers ??= {});
  h["hush-signature"] = signResponseWith(mac, c.signature, a.status, a.body);
  const key = c.key!;
  // None once the key already ends at the hard cap (a rekey could not extend it).
  if (c.routed && key.revokedAt === null && key.expiresAt < key.hardExpiresAt) h["hush-rekey-after"] = String(key.expiresAt - Math.floor(key.ttlMs / 2));
}

/** The per-key token bucket (§3, "Per-key rate limit"): `rate_limited` with `Retry-After`, signed, audited. */
export function rate(): Stage {
  return function rate(c, next) {
    const { st } = c;
    const key = c.key!;
    const wait = st.keyLimiter.take(key.id);
    if (wait > 0) {
      c.m.rejected.inc({ reason: "rate_limit" });
      try {
        st.audit.record({ actor: key.id, via: key.kind, action: "rate_limit", target: c.label, result: "denied", reason: "rate_limited", corr_id: c.corrId });
      } catch {}
      c.answer = fail("rate_limited", "too many requests for this key", c.corrId, { "retry-after": String(wait) });
      return;
    }
    return next(c);
  };
}

const SIGNED_ROLES: readonly Role[] = ["self", "any", "worker", "admin", "owner"];

/**
 * Route a verified request: a key whose rotation was demanded gets
 * `rekey_required` except on `self` routes; the key's kind must fit the
 * area's role (`forbidden`, audited as a policy denial outside creds and
 * admin); admin changes are audited (routes-admin.ts); then the row's
 * handler. Errors become signed error answers here.
 */
export function route(routes: readonly Route[]): Stage {
  const table = compileRoutes(routes, SIGNED_ROLES);
  return function route(c) {
    const key = c.key!;
    c.routed = true;
    try {
      const area = table.get(c.area);
      const role = area?.role ?? "worker";
      if (key.rekeyRequired && role !== "self") {
        c.answer = fail("rekey_required", "this key must be rotated (POST /v1/rekey) before further use", c.corrId);
        return;
      }
      if (role === "admin" && key.kind !== "admin") throw new HushError("forbidden", "admin routes need an admin credential");
      if (role === "worker" && key.kind !== "worker") throw new HushError("forbidden", "admin credentials are for admin routes only");
      const a = dispatch(c, area, role === "admin");
      if (a instanceof Promise) return routeLater(c, a);
      c.answer = a;
    } catch (e) {
      routeError(c, e);
    }
  };
}

async function routeLater(c: Ctx, p: Promise<Answer>): Promise<void> {
  try {
    c.answer = await p;
  } catch (e) {
    routeError(c, e);
  }
}

/** A signed error answer; a forbidden outside creds and admin is audited as a policy denial. */
function routeError(c: Ctx, e: unknown): void {
  const { st } = c;
  const key = c.key!;
  if (e instanceof HushError && e.code === "forbidden" && c.area !== "creds" && c.area !== "admin") {
    try {
      st.audit.record({ actor: key.id, via: key.kind, action: "policy", target: c.label, result: "denied", reason: "forbidden", corr_id: c.corrId });
    } catch {}
  }
  c.answer = answerError(e, c.corrId);
  if (c.answer.status === 500) logQuietly(c, "internal error", e);
}

/** The admin.sock listener: the `admin`, `owner` and `any` rows as "admin-socket"; any other path is `not_found`. Errors go to `observe` (unsigned). */
export function adminListener(routes: readonly Route[]): Stage {
  const table = compileRoutes(routes, ["admin", "owner", "any"]);
  return function adminListener(c) {
    c.actor = "admin-socket";
    const area = table.get(c.area);
    if (c.area !== "admin" && typeof matchRoute(area, c.parts, c.req.method) !== "object") throw new HushError("not_found", "no such route on the admin socket");
    const a = dispatch(c, area, true);
    if (a instanceof Promise) return answerLater(c, a);
    c.answer = a;
  };
}

/** Run the matching row, inside the admin audit when it changes something. */
function dispatch(c: Ctx, area: Area | undefined, admin: boolean): Promise<Answer> | Answer {
  if (admin && isAdminChange(c)) return auditAdminChange(c, () => invoke(c, area, admin));
  return invoke(c, area, admin);
}

function invoke(c: Ctx, area: Area | undefined, admin: boolean): Promise<Answer> | Answer {
  const hit = matchRoute(area, c.parts, c.req.method);
  if (hit === "method") throw new HushError("invalid_request", "method not allowed on this route");
  if (hit === undefined) throw new HushError("not_found", admin ? "no such admin route" : "no such route");
  if (hit.role === "owner" && c.actor !== "admin-socket") throw new HushError("forbidden", "admin keys are issued on the admin socket only");
  c.active = !hit.passive;
  return hit.handler(c);
}
