/**
 * Patterns on top of the `Client` calls that parallel workers need:
 * `withLock` waits for a lock, keeps it renewed while the work runs and
 * releases it; `getOrCreate` makes a shared value once, whoever asks first.
 *
 *   await withLock(hush, "db-migrate", async (lock) => migrate(lock.token), { ttlMs: 30_000 });
 *   const db = await getOrCreate(hush, "fixture/db", () => createDatabase(), { ttlMs: 3_600_000 });
 * @module
 */
import { HushError, isHushError } from "../errors.ts";
import type { Client, Lock } from "./client.ts";

export interface WithLockOptions {
  /** Lease time of the lock in ms; it is renewed every ttlMs/2 while `fn` runs. */
  ttlMs: number;
  /** Longest wait for a held lock, in ms. Default 30000. */
  waitMs?: number;
  /** Shown by `hush lock` as the holder. */
  holder?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Acquire `name`, waiting with backoff (5–100 ms) while another worker holds it. */
export async function acquireLock(client: Client, name: string, opts: WithLockOptions): Promise<Lock> {
  const deadline = Date.now() + (opts.waitMs ?? 30_000);
  const lockOpts = opts.holder === undefined ? { ttlMs: opts.ttlMs } : { ttlMs: opts.ttlMs, holder: opts.holder };
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.lock(name, lockOpts);
    } catch (e) {
      if (!(isHushError(e) && e.code === "conflict")) throw e;
      if (Date.now() >= deadline) throw new HushError("conflict", `lock ${JSON.stringify(name)} is still held after ${opts.waitMs ?? 30_000} ms`);
      await sleep(Math.min(100, 5 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
  }
}

/**
 * Run `fn` while holding lock `name` (PROTOCOL.md locks: one holder at a
 * time; `lock.token` is the fencing token, larger for every new holder).
 * Throws HushError `conflict` when the lock is not free within `waitMs`, and
 * rethrows what `fn` throws; the lock is released either way.
 */
export async function withLock<T>(client: Client, name: string, fn: (lock: Lock) => T | Promise<T>, opts: WithLockOptions): Promise<T> {
  const lock = await acquireLock(client, name, opts);
  let renewError: unknown;
  const timer = setInterval(() => lock.renew(opts.ttlMs).catch((e) => (renewError ??= e)), Math.max(1, Math.floor(opts.ttlMs / 2)));
  let result: T;
  try {
    result = await fn(lock);
  } catch (e) {
    clearInterval(timer);
    await lock.release().catch(() => {});
    throw e;
  }
  clearInterval(timer);
  await lock.release();
  if (renewError) throw renewError;
  return result;
}

export interface GetOrCreateOptions {
  /** TTL of the stored value, in ms (the daemon requires one by default). */
  ttlMs: number;
  /** Longest wait while another worker creates it, in ms. Default 60000. */
  waitMs?: number;
}

/**
 * The value under `key`; the first caller creates it with `create()` and
 * stores it (JSON), while every other caller waits and then reads it. A lock
 * (`getOrCreate:KEY`) makes the check-and-create atomic. Throws what
 * `create` throws (nothing is stored then, and the next caller tries again).
 */
export async function getOrCreate<T>(client: Client, key: string, create: () => T | Promise<T>, opts: GetOrCreateOptions): Promise<T> {
  const read = async (): Promise<{ value: T } | undefined> => {
    try {
      return { value: await client.get<T>(key) };
    } catch (e) {
      if (isHushError(e) && e.code === "not_found") return undefined;
      throw e;
    }
  };
  const first = await read();
  if (first) return first.value;
  return withLock(
    client,
    `getOrCreate:${key}`,
    async () => {
      const again = await read();
      if (again) return again.value;
      const value = await create();
      await client.set(key, value, { ttlMs: opts.ttlMs });
      return value;
    },
    { ttlMs: 30_000, waitMs: opts.waitMs ?? 60_000 },
  );
}
