/**
 * Credentials held for workers (PROTOCOL.md §7): named secrets with an
 * allow-list of tags, handed out under leases.
 *
 * - shared: every allowed worker may hold the value at once;
 * - exclusive: a pool of values (e.g. test accounts); each value is held by
 *   at most one lease at a time, until it is returned or its lease expires;
 *   `conflict` when none is free.
 *
 * Policy is default deny: a worker may check a credential out only when one
 * of its tags is in the credential's allow-list (`*` allows every worker).
 * Values are kept as bytes and zero-filled when replaced, deleted or wiped.
 * @module
 */
import { HushError } from "../errors.ts";
import { TTL_LIMITS, randomBytes, wipe } from "./_deps.ts";
import { toB64u } from "../crypto/index.ts";
import { validateName, type StoreLimits } from "./limits.ts";

export type CredMode = "shared" | "exclusive";

export const DEFAULT_LEASE_MS = TTL_LIMITS.lease.defaultMs;
export const MAX_LEASE_MS = TTL_LIMITS.lease.maxMs;
export const MAX_CRED_VALUES = 10_000;

interface Lease {
  id: string;
  cred: string;
  /** Index of the value (exclusive mode) or 0. */
  slot: number;
  holder: string;
  expiresAt: number;
}

interface Cred {
  name: string;
  values: Uint8Array[];
  allow: string[];
  mode: CredMode;
  version: number;
  source: string;
  updatedAt: number;
}

export interface CredInfo {
  name: string;
  mode: CredMode;
  allow: string[];
  values: number;
  in_use: number;
  version: number;
  source: string;
  updated_at: number;
}

export interface Checkout {
  leaseId: string;
  expiresAt: number;
  value: Uint8Array;
  version: number;
  mode: CredMode;
}

const TAG_RE = /^(\*|[A-Za-z0-9._:-]{1,64})$/;

export function validateAllow(allow: unknown): string[] {
  if (allow === undefined) return [];
  if (!Array.isArray(allow) || allow.length > 64 || !allow.every((t) => typeof t === "string" && TAG_RE.test(t))) {
    throw new HushError("invalid_request", "allow must be a list of tags (A-Z a-z 0-9 . _ : -) or \"*\"");
  }
  return [...new Set(allow as string[])].sort();
}

/** Default deny: allowed when a worker tag is in the allow-list, or the list holds "*". */
export function isAllowed(allow: string[], workerTags: string[]): boolean {
  if (allow.includes("*")) return true;
  return workerTags.some((t) => allow.includes(t));
}

export class CredentialStore {
  private readonly creds = new Map<string, Cred>();
  private readonly leases = new Map<string, Lease>();

  constructor(
    private readonly now: () => number,
    private readonly limits: Pick<StoreLimits, "maxKeyBytes" | "maxValueBytes">,
  ) {}

  /** Create or replace a credential. Takes ownership of `values` (wiped when dropped). */
  put(name: string, values: Uint8Array[], opts: { allow?: unknown; mode?: unknown; source?: string } = {}): CredInfo {
    validateName(name, this.limits as StoreLimits, "credential name");
    const mode = opts.mode ?? "shared";
    if (mode !== "shared" && mode !== "exclusive") throw new HushError("invalid_request", "mode must be shared or exclusive");
    const allow = validateAllow(opts.allow);
    if (values.length === 0) throw new HushError("invalid_request", "a credential needs at least one value");
    if (values.length > MAX_CRED_VALUES) throw new HushError("too_large", `at most ${MAX_CRED_VALUES} values`);
    if (mode === "shared" && values.length !== 1) throw new HushError("invalid_request", "a shared credential has exactly one value (use mode exclusive for a pool)");
    for (const v of values) {
      if (v.length === 0) throw new HushError("invalid_request", "credential values must not be empty");
      if (v.length > this.limits.maxValueBytes) throw new HushError("too_large", `a credential value is over ${this.limits.maxValueBytes} bytes`);
    }
    const old = this.creds.get(name);
    if (old) this.drop(old);
    const c: Cred = { name, values, allow, mode, version: (old?.version ?? 0) + 1, source: opts.source ?? "admin", updatedAt: this.now() };
    this.creds.set(name, c);
    return this.info(c);
  }

  delete(name: string): CredInfo {
    const c = this.creds.get(name);
    if (!c) throw new HushError("not_found", "no such credential");
    const info = this.info(c);
    this.drop(c);
    this.creds.delete(name);
    return info;
  }

  private drop(c: Cred): void {
    wipe(...c.values);
    for (const [id, l] of this.leases) if (l.cred === c.name) this.leases.delete(id);
  }

  has(name: string): boolean {
    return this.creds.has(name);
  }

  /**
   * Check a credential out for `holder` (a worker id) with `tags`.
   * The returned `value` is the stored buffer: seal it before any await.
   */
  checkout(name: string, holder: string, tags: string[], ttlMs?: number): Checkout {
    const c = this.creds.get(name);
    if (!c) throw new HushError("not_found", "no such credential");
    if (!isAllowed(c.allow, tags)) throw new HushError("forbidden", "this worker's tags do not allow this credential");
    const ttl = ttlMs ?? DEFAULT_LEASE_MS;
    if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_LEASE_MS) throw new HushError("invalid_ttl", `ttl_ms must be a positive integer ≤ ${MAX_LEASE_MS}`);
    const now = this.now();
    let slot = 0;
    if (c.mode === "exclusive") {
      const taken = new Set<number>();
      for (const [id, l] of this.leases) {
        if (l.expiresAt <= now) this.leases.delete(id);
        else if (l.cred === name) taken.add(l.slot);
      }
      slot = c.values.findIndex((_, i) => !taken.has(i));
      if (slot < 0) throw new HushError("conflict", "every value of this credential is checked out");
    }
    const lease: Lease = { id: "l_" + toB64u(randomBytes(12)), cred: name, slot, holder, expiresAt: now + ttl };
    this.leases.set(lease.id, lease);
    return { leaseId: lease.id, expiresAt: lease.expiresAt, value: c.values[slot], version: c.version, mode: c.mode };
  }

  /** Return a lease early; only its holder may. */
  giveBack(leaseId: string, holder: string): { returned: true; cred: string } {
    const l = this.leases.get(leaseId);
    if (!l || l.expiresAt <= this.now()) throw new HushError("not_found", "no such lease");
    if (l.holder !== holder) throw new HushError("forbidden", "this lease belongs to another worker");
    this.leases.delete(leaseId);
    return { returned: true, cred: l.cred };
  }

  info(c: Cred): CredInfo {
    const now = this.now();
    let inUse = 0;
    for (const l of this.leases.values()) if (l.cred === c.name && l.expiresAt > now) inUse++;
    return { name: c.name, mode: c.mode, allow: c.allow, values: c.values.length, in_use: inUse, version: c.version, source: c.source, updated_at: c.updatedAt };
  }

  list(): CredInfo[] {
    return [...this.creds.values()].map((c) => this.info(c)).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  sweep(): void {
    const now = this.now();
    for (const [id, l] of this.leases) if (l.expiresAt <= now) this.leases.delete(id);
  }

  get size(): number {
    return this.creds.size;
  }

  wipe(): void {
    for (const c of this.creds.values()) wipe(...c.values);
    this.creds.clear();
    this.leases.clear();
  }
}
