/**
 * `SharedKeyRegistry`: the key registry of a daemon that shares its worker
 * and admin keys with the other daemons of a cluster (docs/CLUSTER.md §10).
 * It is the in-memory `KeyRegistry` used as a cache in front of a
 * `KeyMirror` (the Redis one is src/cluster/keys.ts):
 *
 * - every change (create, rekey, confirm, revoke, a demanded rotation, a
 *   discarded key) bumps the record's `ver` and writes the whole record,
 *   compare-and-set on the version this daemon last knew to be stored, one
 *   write at a time per key; `flush()` waits for them (a change is answered
 *   only once it is shared);
 * - a key this daemon has not cached is fetched on its first request
 *   (`fetch`), and so is a key whose signature did not verify (a rekey
 *   answered by another daemon);
 * - the request replay cache tells, at no extra round trip, when the stored
 *   version differs from the cached one and hands over the newer record
 *   (`seen`), so a revocation, rekey or demanded rotation made on one
 *   daemon takes effect on the next request to any;
 * - a revocation, once seen, is kept for the rest of the key's life (its
 *   expiry), even after the ended record leaves this cache: a stored
 *   record that is not revoked never replaces it (a rolled-back record in
 *   the backend cannot undo it here).
 *
 * A stored record older than the one this daemon knew (rolled back) is
 * written over with the cached one.
 *
 * A write that loses a race with another daemon's change to the same key
 * adopts the stored record (a revocation made here is applied to it and
 * written again) and `flush()` rejects `conflict`.
 *
 * A record missing from the backend (Redis lost its state, or someone
 * deleted it) is written again from this cache only when it is ended (that
 * only takes access away). A live one is dropped and the key refused: this
 * cache may be stale (not have seen a revocation made elsewhere), so
 * writing it back could undo that revocation. The worker joins again.
 * @module
 */
import { HushError } from "../errors.ts";
import { KeyRegistry, wipeKeys, type KeyEnd, type KeyRecord } from "./registry.ts";

/** A record as the backend holds it: its version, and the record (null: none stored, `ver` 0). */
export interface StoredKey {
  ver: number;
  rec: KeyRecord | null;
}

/** Where the records are shared (src/cluster/keys.ts). Every method rejects `unavailable` when the backend cannot answer. */
export interface KeyMirror {
  /** Store `rec` as version `rec.ver` if the stored version is `base` (0: none); null when written, else what is stored. */
  put(rec: KeyRecord, base: number): Promise<StoredKey | null>;
  get(id: string): Promise<StoredKey>;
  /** Every stored record. */
  all(): Promise<StoredKey[]>;
  /** A record handed over by another script (the replay cache's): `sealed` as stored for version `ver` of `id`. Throws `internal` if it does not open. */
  open(id: string, ver: number, sealed: string): StoredKey;
}

/**
 * What a shared replay cache tells the shared key registry: the script that
 * records a nonce also compares the key's stored record version with the
 * cached one, and hands the record over when they differ.
 */
export interface KeyVersions {
  /** The version of `keyId`'s record this daemon has cached (0: none). */
  storedVer(keyId: string): number;
  /** The stored record differs (`sealed` is '' for none, version 0): apply it before the request goes on. */
  changed(keyId: string, ver: number, sealed: string): void;
}

/** How long (ms) an id the backend did not hold is answered unknown without asking again, and how many such ids are remembered. */
const MISSING_MS = 1_000;
const MISSING_MAX = 10_000;

/** Writes attempted for one change before `conflict` (each lost race re-reads the stored record). */
const PUT_ATTEMPTS = 8;

export class SharedKeyRegistry extends KeyRegistry implements KeyVersions {
  /** Version of each cached record known to be stored. */
  private readonly _stored = new Map<string, number>();
  /** The last write queued per key. */
  private readonly _writes = new Map<string, Promise<void>>();
  /** Key ids whose revocation this daemon saw, until when the key would have ended (ms): kept after the record is dropped. */
  private readonly _revoked = new Map<string, number>();
  /** Key ids the backend did not hold, until when they are not asked for again. */
  private readonly _missing = new Map<string, number>();
  /** Fetches in flight per key (concurrent first requests share one). */
  private readonly _fetches = new Map<string, Promise<KeyRecord | undefined>>();
  /** Called with a write that failed in the background (nobody flushed it); the sweeper writes it again. */
  onWriteError?: (id: string, e: unknown) => void;

  constructor(
    private readonly _mirror: KeyMirror,
    now: () => number,
    limits: { maxWorkers?: number } = {},
  ) {
    super(now, limits);
  }

  override create(opts: Parameters<KeyRegistry["create"]>[0]): KeyRecord {
    const rec = super.create(opts);
    this._stored.set(rec.id, 0);
    this._queue(rec);
    return rec;
  }

  override rekey(rec: KeyRecord, keys: Parameters<KeyRegistry["rekey"]>[1]): boolean {
    const r = super.rekey(rec, keys);
    this._changed(rec);
    return r;
  }

  override confirm(rec: KeyRecord, graceMs: number): void {
    const had = rec.pending !== null;
    super.confirm(rec, graceMs);
    if (had) this._changed(rec);
  }

  override revoke(id: string, end?: KeyEnd): KeyRecord {
    const rec = this.keys.get(id);
    const was = rec?.revokedAt;
    const r = super.revoke(id, end);
    if (was === null) this._changed(r);
    return r;
  }

  /** A key made here and never handed out: stored as revoked (another daemon may have cached it already). */
  override discard(id: string): void {
    const rec = this.keys.get(id);
    if (rec && rec.revokedAt === null) {
      rec.revokedAt = this.now();
      wipeKeys(rec);
      this._changed(rec);
    }
    super.discard(id);
  }

  override demandRekey(rec: KeyRecord): boolean {
    const was = super.demandRekey(rec);
    if (!was) this._changed(rec);
    return was;
  }

  override undoDemand(rec: KeyRecord, was: boolean): void {
    if (rec.rekeyRequired === was) return;
    super.undoDemand(rec, was);
    this._changed(rec);
  }

  /** The stored version of a cached record (what the replay-cache script compares), or 0. */
  storedVer(id: string): number {
    return this._stored.get(id) ?? 0;
  }

  changed(id: string, ver: number, sealed: string): void {
    this.seen(id, this._mirror.open(id, ver, sealed));
  }

  override fetch(id: string): Promise<KeyRecord | undefined> {
    let f = this._fetches.get(id);
    if (!f) {
      // An id the backend did not know a moment ago is not asked again at once: a flood of made-up
      // key ids costs one round trip per id per MISSING_MS (a real id is in the backend before its
      // credential is handed out, so none is refused by this).
      const missing = this._missing.get(id);
      if (missing !== undefined && missing > this.now()) return Promise.resolve(this.get(id));
      f = this._mirror.get(id).then((s) => {
        if (s.rec === null && !this.get(id)) {
          if (this._missing.size >= MISSING_MAX) this._missing.clear();
          this._missing.set(id, this.now() + MISSING_MS);
        }
        return this.seen(id, s);
      });
      this._fetches.set(id, f);
      const done = () => void this._fetches.delete(id);
      f.then(done, done);
    }
    return f;
  }

  /**
   * A stored record the backend handed over (a fetch, or the replay-cache
   * script when its version differs from the cached one): cached or
   * applied to the cached record in place, unless this daemon knows it to
   * be stale. A missing one is written again from the cache. Takes
   * ownership of `s.rec`. Returns the cached record.
   */
  seen(id: string, s: StoredKey): KeyRecord | undefined {
    const cur = this.keys.get(id);
    const incoming = s.rec;
    if (!incoming) {
      if (!cur || this.storedVer(id) === 0 || this._writes.has(id)) return cur; // not stored yet: our write is on its way
      if (cur.revokedAt !== null) {
        // An ended record is written again: it only takes access away.
        this._stored.set(id, 0);
        this._queue(cur);
        return cur;
      }
      // A live record lost from the backend (Redis lost its state, or it was deleted) is never
      // written again from a cache: this cache may not have seen a revocation made elsewhere.
      this._lose(cur);
      return undefined;
    }
    if (incoming.id !== id) throw new HushError("internal", "a stored key record names another key");
    if (!cur && incoming.revokedAt === null && this._revokedUntil(id) !== undefined) {
      // A revocation seen here outlives the cached record, for the rest of the key's life.
      wipeKeys(incoming);
      return undefined;
    }
    if (!cur) {
      incoming.ver = s.ver;
      this.keys.set(id, incoming);
      this._stored.set(id, s.ver);
      this._noteRevoked(incoming);
      if (incoming.kind === "worker" && incoming.revokedAt === null && incoming.expiresAt > this.now()) this.live.add(id);
      return incoming;
    }
    const known = this.storedVer(id);
    if (s.ver <= known || this._writes.has(id)) {
      wipeKeys(incoming); // stale, or a write of ours is on its way (it settles any race)
      if (s.ver < known && !this._writes.has(id)) {
        // Redis went back to an older version (rolled back, or restored): write the newer one back.
        this._stored.set(id, s.ver);
        this._changed(cur);
      }
      return cur;
    }
    if (cur.revokedAt !== null && incoming.revokedAt === null) {
      // A revocation is never undone: the stored record is older than what this daemon saw, or was rolled back.
      wipeKeys(incoming);
      this._stored.set(id, s.ver);
      cur.ver = Math.max(cur.ver, s.ver);
      this._changed(cur);
      return cur;
    }
    this._apply(cur, incoming, s.ver);
    return cur;
  }

  override flush(): Promise<void> | undefined {
    if (this._writes.size === 0) return undefined;
    return Promise.all([...this._writes.values()]).then(() => {});
  }

  override refresh(): Promise<void> {
    return this._mirror.all().then((all) => {
      for (const s of all) if (s.rec) this.seen(s.rec.id, s);
    });
  }

  /** Also writes again, in the background, every change whose write failed. */
  override sweep(keepMs?: number): void {
    super.sweep(keepMs);
    const now = this.now();
    for (const [id, until] of this._revoked) if (until <= now) this._revoked.delete(id);
    for (const [id, ver] of this._stored) {
      const rec = this.keys.get(id);
      if (!rec) this._stored.delete(id);
      else if (rec.ver > ver && !this._writes.has(id)) this._queue(rec);
    }
  }

  override wipe(): void {
    super.wipe();
    this._stored.clear();
    this._revoked.clear();
    this._missing.clear();
  }

  /** Until when (ms) a revocation of `id` seen here is kept, or undefined. */
  private _revokedUntil(id: string): number | undefined {
    const until = this._revoked.get(id);
    if (until !== undefined && until <= this.now()) {
      this._revoked.delete(id);
      return undefined;
    }
    return until;
  }

  /** Keep `rec`'s revocation for the rest of the key's life (its expiry, or its pending key's), even after the record is dropped. */
  private _noteRevoked(rec: KeyRecord): void {
    if (rec.revokedAt !== null) this._revoked.set(rec.id, Math.max(rec.expiresAt, rec.pending?.expiresAt ?? 0));
  }

  /** A live record lost from the backend: dropped here, and ended (its leases freed) as a revocation would. */
  private _lose(rec: KeyRecord): void {
    // Requests already verified against it are checked again and refused (the verifier compares `ver`).
    rec.revokedAt = this.now();
    rec.ver++;
    this.keys.delete(rec.id);
    this._stored.delete(rec.id);
    const live = this.live.delete(rec.id);
    wipeKeys(rec);
    if (live) this.onEnd?.(rec, { reason: "revoked", actor: "backend (record lost)" });
  }

  /** Apply the stored record `from` (version `ver`) to the cached `cur`, in place; an end it brings runs `onEnd`. */
  private _apply(cur: KeyRecord, from: KeyRecord, ver: number): void {
    const ended = cur.revokedAt === null && from.revokedAt !== null;
    const lastSeenAt = cur.lastSeenAt;
    wipeKeys(cur);
    Object.assign(cur, from, { ver, lastSeenAt });
    this._stored.set(cur.id, ver);
    this._noteRevoked(cur);
    if (cur.revokedAt !== null || cur.kind !== "worker") this.live.delete(cur.id);
    if (ended) this.onEnd?.(cur, { reason: "revoked", actor: "another daemon" });
  }

  private _changed(rec: KeyRecord): void {
    this._noteRevoked(rec);
    rec.ver++;
    this._queue(rec);
  }

  /** Write `rec` after the writes already queued for it. */
  private _queue(rec: KeyRecord): void {
    const id = rec.id;
    const prev = this._writes.get(id);
    const p = (prev ? prev.catch(() => {}) : Promise.resolve()).then(() => this._write(rec));
    this._writes.set(id, p);
    p.then(
      () => {
        if (this._writes.get(id) === p) this._writes.delete(id);
      },
      (e) => {
        if (this._writes.get(id) === p) this._writes.delete(id);
        this.onWriteError?.(id, e);
      },
    );
  }

  /** Compare-and-set until written; a lost race adopts the stored record (keeping a revocation made here). */
  private async _write(rec: KeyRecord): Promise<void> {
    for (let i = 0; i < PUT_ATTEMPTS; i++) {
      const base = this.storedVer(rec.id);
      if (rec.ver <= base) return; // a later write already stored this state
      const ver = rec.ver;
      const other = await this._mirror.put(rec, base);
      if (other === null) {
        if (ver > this.storedVer(rec.id)) this._stored.set(rec.id, ver);
        return;
      }
      if (other.rec === null) {
        if (rec.revokedAt === null) {
          // Gone from the backend while live: not written again from here (see `seen`).
          this._lose(rec);
          throw new HushError("auth_failed", "the key's record is gone from the shared backend; join again");
        }
        this._stored.set(rec.id, 0); // an ended record: written again from here
        continue;
      }
      const revokedHere = rec.revokedAt !== null && other.rec.revokedAt === null;
      const revokedAt = rec.revokedAt;
      this._apply(rec, other.rec, other.ver);
      if (!revokedHere) throw new HushError("conflict", "the key was changed on another daemon at the same time; try again");
      rec.revokedAt = revokedAt;
      wipeKeys(rec);
      this.live.delete(rec.id);
      rec.ver = other.ver + 1;
    }
    throw new HushError("busy", "the key record kept changing on other daemons; try again");
  }
}
