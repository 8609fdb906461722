/**
 * Credential checkouts whose leases several daemons share (docs/CLUSTER.md
 * §10). Each daemon holds the credentials' values, allow-lists and modes in
 * its own `CredentialStore` (every daemon loads the same `--creds-file`);
 * the leases — which value of which credential is held, by which worker
 * key, until when — live in a `CredLeaseBook` (src/cluster/creds.ts: Redis,
 * by script). So an exclusive value checked out through one daemon is
 * refused through every other until it is returned (through any daemon) or
 * its lease expires, and the per-worker cap counts a worker's leases on
 * every daemon. The values never leave the daemons.
 *
 * `CredCheckouts` is what the checkout, return and revocation paths need;
 * `CredentialStore` (one daemon, synchronous) and `SharedCredCheckouts`
 * (promises) both implement it, and one contract suite runs against both
 * (test/cluster/creds-contract.test.ts).
 * @module
 */
import { HushError } from "../errors.ts";
import { randomBytes } from "./_deps.ts";
import { toB64u } from "../crypto/index.ts";
import type { Awaitable } from "./backend.ts";
import type { Checkout, CredentialStore, CredInfo, EndedLease } from "./creds.ts";

/** A lease taken in a shared book: which value (`slot`; -1 for a shared credential) until when (ms, the backend's clock). */
export interface SharedLease {
  leaseId: string;
  slot: number;
  expiresAt: number;
}

/**
 * Credential leases kept outside this process, for every daemon of a
 * cluster. A credential is named by `idOf(name)` (an HMAC: the backend
 * never sees names or values); the holder is a worker key id. Errors:
 * `conflict` (no free value), `max_items` (the holder's cap), `not_found`
 * (no live lease), `forbidden` (another holder's lease), `unavailable`.
 */
export interface CredLeaseBook {
  idOf(name: string): string;
  /** Take a free value of `values` (0: a shared credential, any number of leases) for `ttlMs`. */
  take(name: string, values: number, holder: string, ttlMs: number, leaseId: string, maxPerHolder: number): Promise<SharedLease>;
  /** The credential id of `holder`'s live lease. */
  peek(leaseId: string, holder: string): Promise<string>;
  /** End `holder`'s live lease; its credential id. */
  giveBack(leaseId: string, holder: string): Promise<string>;
  /** End every lease of `holder`; the live ones. */
  endHolder(holder: string): Promise<{ leaseId: string; credId: string }[]>;
  /** End every lease of a credential (replaced or deleted). */
  endCred(name: string): Promise<void>;
  /** Live leases of each credential. */
  inUse(names: string[]): Promise<number[]>;
}

/** Checkout, return, the end of a worker's leases and the listing: the routes' view of credentials. */
export interface CredCheckouts {
  /** `not_found`, `forbidden`, `invalid_ttl`, `conflict`, `max_items`; the value is the stored buffer: seal it before any await. */
  checkout(name: string, holder: string, tags: string[], ttlMs?: number): Awaitable<Checkout>;
  /** The lease's credential name, changing nothing. `not_found`, `forbidden`. */
  checkGiveBack(leaseId: string, holder: string): Awaitable<string>;
  giveBack(leaseId: string, holder: string): Awaitable<{ returned: true; cred: string }>;
  endHolder(holder: string): Awaitable<EndedLease[]>;
  /** Every credential by name, `in_use` counting every daemon's leases. */
  listInUse(): Awaitable<CredInfo[]>;
}

/** The checkouts of a store whose leases live in a shared book. */
export class SharedCredCheckouts implements CredCheckouts {
  /** Credential id → name, rebuilt from the store on a miss. */
  private readonly _ids = new Map<string, string>();

  constructor(
    private readonly _store: CredentialStore,
    private readonly _book: CredLeaseBook,
  ) {
    // A credential replaced or deleted here ends its leases everywhere (else they end at their expiry).
    _store.onDrop = (name) => void _book.endCred(name).catch(() => {});
  }

  async checkout(name: string, holder: string, tags: string[], ttlMs?: number): Promise<Checkout> {
    const { c, ttl } = this._store.checkRequest(name, tags, ttlMs);
    const leaseId = "l_" + toB64u(randomBytes(12));
    let g: SharedLease;
    try {
      g = await this._book.take(name, c.mode === "exclusive" ? c.values.length : 0, holder, ttl, leaseId, this._store.leaseCap);
    } catch (e) {
      if (e instanceof HushError && e.code === "max_items") {
        this._store.refusals.refuse("leases_per_worker", "max_items", `this worker holds ${this._store.leaseCap} live credential leases (the most allowed); return some first`);
      }
      throw e;
    }
    const slot = Math.max(0, g.slot);
    if (this._store.current(name) !== c || slot >= c.values.length) {
      this._book.giveBack(leaseId, holder).catch(() => {});
      throw new HushError("conflict", "the credential was replaced during the checkout; try again");
    }
    return { leaseId, expiresAt: g.expiresAt, value: c.values[slot], version: c.version, mode: c.mode };
  }

  async checkGiveBack(leaseId: string, holder: string): Promise<string> {
    return this._nameOf(await this._book.peek(leaseId, holder));
  }

  async giveBack(leaseId: string, holder: string): Promise<{ returned: true; cred: string }> {
    return { returned: true, cred: this._nameOf(await this._book.giveBack(leaseId, holder)) };
  }

  async endHolder(holder: string): Promise<EndedLease[]> {
    return (await this._book.endHolder(holder)).map((l) => ({ leaseId: l.leaseId, cred: this._nameOf(l.credId) }));
  }

  async listInUse(): Promise<CredInfo[]> {
    const infos = this._store.list();
    const n = await this._book.inUse(infos.map((i) => i.name));
    return infos.map((i, k) => ({ ...i, in_use: n[k] ?? 0 }));
  }

  /** The name of a credential id, among those this daemon holds (else `#` and the id: it holds no such name). */
  private _nameOf(id: string): string {
    let name = this._ids.get(id);
    if (name === undefined || !this._store.has(name)) {
      this._ids.clear();
      for (const i of this._store.list()) this._ids.set(this._book.idOf(i.name), i.name);
      name = this._ids.get(id);
    }
    return name ?? `#${id}`;
  }
}
