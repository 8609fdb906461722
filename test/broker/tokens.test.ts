/**
 * TokenRegistry and ServerKeys as pure state machines (manual clock):
 * token refusal reasons, use counting, PSK wiping, listings without
 * secrets, and the staged server key rotation.
 */
import { describe, expect, test } from "bun:test";
import { expectCode, FakeClock, isZero, T0 } from "./_helpers.ts";
import { DEFAULT_TOKEN_TTL_MS, ENDED_RECORD_KEEP_MS, KeyRegistry, MAX_TOKEN_TTL_MS, ServerKeys, serverKeyId, TokenRegistry } from "../../src/broker/index.ts";
import { generateX25519, sha256, toB64u } from "../../src/crypto/index.ts";
import { isTokenId } from "../../src/keys/index.ts";

function tokens() {
  const clock = new FakeClock();
  return { reg: new TokenRegistry(clock.now), clock };
}

describe("TokenRegistry", () => {
  test("create: defaults (1 use, 1 h, no tags, 24 h worker keys), a fresh id and a 32-byte PSK", () => {
    const { reg } = tokens();
    const t = reg.create({}, "s_x");
    expect(isTokenId(t.id)).toBe(true);
    expect(t.psk.length).toBe(32);
    expect(isZero(t.psk)).toBe(false);
    expect(t).toMatchObject({ usesLeft: 1, uses: 0, tags: [], workerTtlMs: 24 * 3600_000, createdAt: T0, expiresAt: T0 + DEFAULT_TOKEN_TTL_MS, revokedAt: null, serverKeyId: "s_x" });
    const u = reg.create({ uses: "unlimited", tags: ["b", "a", "b"], ttlMs: 5000, workerTtlMs: 1000 }, "s_x");
    expect(u).toMatchObject({ usesLeft: null, tags: ["a", "b"], expiresAt: T0 + 5000, workerTtlMs: 1000 });
    expect(u.id).not.toBe(t.id);
  });

  test("create validates uses, ttl, tags and worker ttl", () => {
    const { reg } = tokens();
    for (const uses of [0, -1, 1.5, "3", 1_000_001]) expectCode(() => reg.create({ uses }, "s"), "invalid_request");
    for (const ttlMs of [0, -5, 1.5, MAX_TOKEN_TTL_MS + 1, "1h"]) expectCode(() => reg.create({ ttlMs }, "s"), "invalid_ttl");
    for (const tags of ["ci", [1], ["bad tag"], Array.from({ length: 33 }, (_, i) => `t${i}`)]) expectCode(() => reg.create({ tags }, "s"), "invalid_request");
    expectCode(() => reg.create({ workerTtlMs: 0 }, "s"), "invalid_ttl");
    expect(reg.count()).toEqual({ active: 0, total: 0 });
    expect(reg.create({ ttlMs: MAX_TOKEN_TTL_MS, uses: 1_000_000 }, "s").usesLeft).toBe(1_000_000);
  });

  test("check: unknown, then revoked before expired before exhausted", () => {
    const { reg, clock } = tokens();
    expect(reg.check("t_AAAAAAAAAAAA")).toBe("unknown_token");
    const t = reg.create({ ttlMs: 1000 }, "s");
    expect(reg.check(t.id)).toBe(t);
    clock.advance(999);
    expect(reg.check(t.id)).toBe(t);
    clock.advance(1);
    expect(reg.check(t.id)).toBe("expired_token");
    const e = reg.create({ uses: 1, ttlMs: 1000 }, "s");
    reg.spend(e);
    expect(reg.check(e.id)).toBe("exhausted_token");
    clock.advance(1000);
    expect(reg.check(e.id)).toBe("expired_token");
    reg.revoke(e.id);
    expect(reg.check(e.id)).toBe("revoked_token");
  });

  test("spend counts uses; the last use wipes the PSK; unlimited tokens never run out", () => {
    const { reg } = tokens();
    const t = reg.create({ uses: 2 }, "s");
    reg.spend(t);
    expect(t).toMatchObject({ uses: 1, usesLeft: 1 });
    expect(isZero(t.psk)).toBe(false);
    reg.spend(t);
    expect(t).toMatchObject({ uses: 2, usesLeft: 0 });
    expect(isZero(t.psk)).toBe(true);
    const u = reg.create({ uses: "unlimited" }, "s");
    for (let i = 0; i < 100; i++) reg.spend(u);
    expect(u).toMatchObject({ uses: 100, usesLeft: null });
    expect(reg.check(u.id)).toBe(u);
  });

  test("revoke wipes the PSK at once, is idempotent, and an unknown id is not_found", () => {
    const { reg, clock } = tokens();
    const t = reg.create({ uses: 5 }, "s");
    expect(reg.revoke(t.id).revokedAt).toBe(T0);
    expect(isZero(t.psk)).toBe(true);
    clock.advance(10);
    expect(reg.revoke(t.id).revokedAt).toBe(T0);
    expectCode(() => reg.revoke("t_AAAAAAAAAAAA"), "not_found");
  });

  test("revokeForServerKey refuses exactly the live tokens of that key", () => {
    const { reg } = tokens();
    const a = reg.create({}, "s_old");
    const b = reg.create({ uses: "unlimited" }, "s_old");
    const c = reg.create({}, "s_old");
    reg.revoke(c.id);
    const other = reg.create({}, "s_new");
    expect(reg.revokeForServerKey("s_old")).toBe(2);
    expect([a, b, c].map((t) => reg.check(t.id))).toEqual(["revoked_token", "revoked_token", "revoked_token"]);
    expect(reg.check(other.id)).toBe(other);
    expect(reg.revokeForServerKey("s_old")).toBe(0);
  });

  test("info and list show status and metadata, never the PSK", () => {
    const { reg, clock } = tokens();
    const active = reg.create({ tags: ["ci"] }, "s");
    const exhausted = reg.create({}, "s");
    reg.spend(exhausted);
    const revoked = reg.create({}, "s");
    reg.revoke(revoked.id);
    const expired = reg.create({ ttlMs: 10 }, "s");
    clock.advance(10);
    const list = reg.list({ all: true });
    const status = Object.fromEntries(list.map((i) => [i.id, i.status]));
    expect(status).toEqual({ [active.id]: "active", [exhausted.id]: "exhausted", [revoked.id]: "revoked", [expired.id]: "expired" });
    const pskB64 = toB64u(active.psk);
    for (const i of list) {
      expect(Object.keys(i)).not.toContain("psk");
      expect(JSON.stringify(i)).not.toContain(pskB64);
    }
    expect(reg.info(active)).toMatchObject({ id: active.id, uses_left: 1, uses: 0, tags: ["ci"], server_key_id: "s", status: "active" });
    expect(reg.count()).toEqual({ active: 1, total: 4 });
  });

  test("sweep wipes PSKs of tokens that can no longer be used; wipe clears everything", () => {
    const { reg, clock } = tokens();
    const live = reg.create({ ttlMs: 5000 }, "s");
    const dying = reg.create({ ttlMs: 10 }, "s");
    clock.advance(10);
    reg.sweep();
    expect(isZero(dying.psk)).toBe(true);
    expect(isZero(live.psk)).toBe(false);
    reg.wipe();
    expect(isZero(live.psk)).toBe(true);
    expect(reg.count()).toEqual({ active: 0, total: 0 });
    expect(reg.check(live.id)).toBe("unknown_token");
  });
});

describe("TokenRegistry retention", () => {
  test("list shows usable tokens; list({all}) adds the ended ones until an hour after they ended, then they are gone", () => {
    const { reg, clock } = tokens();
    const live = reg.create({ ttlMs: 7200_000 }, "s");
    const used = reg.create({ uses: 1 }, "s");
    const revoked = reg.create({}, "s");
    const expiring = reg.create({ ttlMs: 60_000 }, "s");
    reg.spend(used);
    reg.revoke(revoked.id);
    clock.advance(60_000);
    reg.sweep();
    expect(reg.list().map((t) => t.id)).toEqual([live.id]);
    expect(reg.list({ all: true }).map((t) => [t.id, t.status])).toEqual([
      [live.id, "active"],
      [used.id, "exhausted"],
      [revoked.id, "revoked"],
      [expiring.id, "expired"],
    ]);
    clock.advance(ENDED_RECORD_KEEP_MS - 60_000); // the used-up and revoked ones ended an hour ago now
    reg.sweep();
    expect(reg.list({ all: true }).map((t) => t.id)).toEqual([live.id, used.id, revoked.id, expiring.id]);
    clock.advance(1);
    reg.sweep();
    expect(reg.list({ all: true }).map((t) => t.id)).toEqual([live.id, expiring.id]);
    clock.advance(60_000);
    reg.sweep();
    expect(reg.list({ all: true }).map((t) => t.id)).toEqual([live.id]);
  });
});

describe("ServerKeys", () => {
  function keys() {
    const clock = new FakeClock();
    const initial = generateX25519();
    return { sk: new ServerKeys(initial, clock.now), initial, clock };
  }

  test("the id is s_ + b64u of the first 9 bytes of SHA-256(public)", () => {
    const { sk, initial } = keys();
    expect(sk.active.id).toBe("s_" + toB64u(sha256(initial.publicKey).subarray(0, 9)));
    expect(serverKeyId(initial.publicKey)).toBe(sk.active.id);
    expect(sk.active.id).toMatch(/^s_[A-Za-z0-9_-]{12}$/);
    expect(sk.list()).toEqual([{ id: sk.active.id, state: "active", created_at: T0, public: initial.publicKey }]);
  });

  test("prepare → activate → retire; each stage out of order is a conflict", () => {
    const { sk } = keys();
    const oldId = sk.active.id;
    expectCode(() => sk.activate(), "conflict");
    expectCode(() => sk.retire(), "conflict");
    const next = sk.prepare();
    expect(next.state).toBe("next");
    expect(sk.active.id).toBe(oldId);
    expectCode(() => sk.prepare(), "conflict");
    expectCode(() => sk.retire(), "conflict");
    expect(sk.activate()).toBe(next);
    expect(sk.active).toBe(next);
    expect(sk.byId(oldId)!.state).toBe("previous");
    // A new key cannot be prepared and activated before the previous one is retired.
    const third = sk.prepare();
    expectCode(() => sk.activate(), "conflict");
    const oldSecret = sk.byId(oldId)!.secretKey;
    expect(sk.retire()).toBe(oldId);
    expect(isZero(oldSecret)).toBe(true);
    expect(sk.byId(oldId)).toBeUndefined();
    expect(sk.list().map((k) => [k.id, k.state])).toEqual([
      [next.id, "active"],
      [third.id, "next"],
    ]);
    expect(sk.activate()).toBe(third);
  });

  test("usable() lists every key still held, active first", () => {
    const { sk } = keys();
    const first = sk.active;
    const next = sk.prepare();
    expect(sk.usable().map((k) => k.id)).toEqual([first.id, next.id]);
    sk.activate();
    expect(sk.usable().map((k) => k.id)).toEqual([next.id, first.id]);
    sk.retire();
    expect(sk.usable().map((k) => k.id)).toEqual([next.id]);
  });

  test("wipe zero-fills every secret", () => {
    const { sk } = keys();
    const a = sk.active;
    const b = sk.prepare();
    sk.wipe();
    expect(isZero(a.secretKey)).toBe(true);
    expect(isZero(b.secretKey)).toBe(true);
  });
});

describe("KeyRegistry sweep", () => {
  test("ended keys are wiped at once and dropped an hour after they ended; live keys stay", () => {
    let t = 1_000_000;
    const r = new KeyRegistry(() => t);
    const live = r.create({ kind: "worker", name: "live", via: "issue" });
    const short = r.create({ kind: "worker", name: "short", via: "join", ttlMs: 1000 });
    const gone = r.create({ kind: "worker", name: "gone", via: "issue" });
    r.revoke(gone.id);
    t += 2000;
    r.sweep();
    expect(short.macKey.every((b: number) => b === 0)).toBe(true);
    expect(r.get(short.id)).toBeDefined();
    t += 3600_000;
    r.sweep();
    expect(r.get(short.id)).toBeUndefined();
    expect(r.get(gone.id)).toBeUndefined();
    expect(r.get(live.id)).toBeDefined();
  });
});

describe("KeyRegistry rekey (key confirmation)", () => {
  const keys = (n: number, expiresAt: number) => ({ macKey: new Uint8Array(32).fill(n), encKey: new Uint8Array(32).fill(100 + n), serverPublic: new Uint8Array(32), expiresAt });

  test("one pending key at a time: a later rekey supersedes it (kept 4, wiped beyond); confirm swaps it in with a grace period", () => {
    const clock = new FakeClock();
    const r = new KeyRegistry(clock.now);
    const k = r.create({ kind: "worker", name: "w", via: "issue", ttlMs: 10_000 });
    const mac0 = k.macKey;
    const made = [1, 2, 3, 4, 5, 6].map((n) => keys(n, r.rekeyExpiry(k)));
    expect(r.rekey(k, made[0])).toBe(false);
    for (const m of made.slice(1)) expect(r.rekey(k, m)).toBe(true);
    expect(k.macKey).toBe(mac0); // still in force
    expect(k.pending!.macKey).toBe(made[5].macKey);
    expect(k.supersededMacKeys.map((m) => m[0])).toEqual([5, 4, 3, 2]);
    expect(isZero(made[0].macKey) && isZero(made[0].encKey)).toBe(true); // beyond the 4 kept
    expect(isZero(made[4].encKey)).toBe(true); // a superseded enc key is never needed
    expect(r.info(k)).toMatchObject({ rekeys: 0, rekey_pending: true });
    clock.advance(1000);
    r.confirm(k, 300);
    expect(k.macKey).toBe(made[5].macKey);
    expect(k.expiresAt).toBe(made[5].expiresAt);
    expect(k.prevMacKey).toBe(mac0);
    expect(k.prevUntil).toBe(clock.now() + 300);
    expect(k.retiredMacKeys[0]).toBe(mac0);
    expect(r.info(k)).toMatchObject({ rekeys: 1, rekey_pending: false });
    r.revoke(k.id);
    expect(isZero(made[5].macKey) && isZero(mac0) && k.supersededMacKeys.length === 0).toBe(true);
  });

  test("a rekey made while a rotation is demanded completes it on confirmation, and the old key gets no grace; one made before does not", () => {
    const clock = new FakeClock();
    const r = new KeyRegistry(clock.now);
    const k = r.create({ kind: "worker", name: "w", via: "issue" });
    r.rekey(k, keys(1, r.rekeyExpiry(k)));
    k.rekeyRequired = true;
    r.confirm(k, 300);
    expect(k.rekeyRequired).toBe(true);
    expect(k.prevMacKey).not.toBeNull();
    const oldEnc = k.encKey;
    r.rekey(k, keys(2, r.rekeyExpiry(k)));
    r.confirm(k, 300);
    expect(k.rekeyRequired).toBe(false);
    expect(k.prevMacKey).toBeNull();
    expect(isZero(oldEnc)).toBe(true);
    expect(k.retiredMacKeys[0][0]).toBe(1);
  });
});
