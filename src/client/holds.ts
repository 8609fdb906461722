/**
 * What a worker holds through the SDK — locks, pool leases, claims on KV
 * keys — as objects with `renew`, `release` and `Symbol.asyncDispose`
 * (`await using lock = await hush.lock(…)`), plus the two patterns built on
 * them: `runHeld` (withLock: renew while a function runs, release after)
 * and `getOrSetFlow` (getOrSet: one caller makes a value, the others get it).
 *
 * Wire fields are snake_case (PROTOCOL.md §8); everything returned here is
 * camelCase.
 * @module
 */
import { HushError } from "../errors.ts";
import { untilFree, type CallOptions, type WaitOptions } from "./wait.ts";

/** One signed call: method, path, JSON body, signal → the answer's JSON. */
export type Caller = (method: string, path: string, body: unknown, signal: AbortSignal | undefined) => Promise<any>;

/** Something held with a token until it is released or expires. */
export interface Hold {
  readonly token: number;
  /** Expiry (Unix ms, the daemon's clock); `renew` moves it. */
  expiresAt: number;
  /** Extend to now + `ttlMs` (default: the TTL it was taken with); the new expiry. Throws `not_found`/`conflict` when it was lost. */
  renew(ttlMs?: number, opts?: CallOptions): Promise<number>;
  /** End it: true, or false when nothing was held any more (released already, expired). Never throws for that. */
  release(opts?: CallOptions): Promise<boolean>;
  /** `release()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A lock with its fencing token (PROTOCOL.md §8 "Fencing tokens"). */
export interface Lock extends Hold {
  readonly name: string;
  readonly holder: string | undefined;
}

/** A pool slot. */
export interface Lease extends Hold {
  readonly pool: string;
  readonly slot: number;
  readonly holder: string | undefined;
}

declare global {
  /**
   * `Symbol.asyncDispose` (ECMAScript explicit resource management), declared
   * as TypeScript's lib `esnext.disposable` and @types/node declare it, so
   * that the SDK's declaration files compile in a project whose `lib` is
   * ES2022 and that has no @types/node (the consumer projects' tsc checks).
   */
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}

/** `Symbol.asyncDispose` (Node ≥ 20.4, Bun), or its registered stand-in on older runtimes. */
export const asyncDispose: typeof Symbol.asyncDispose = (Symbol as any).asyncDispose ?? Symbol.for("Symbol.asyncDispose");

/** The renew/release/dispose of a hold at `base` (`…/renew`, `…/release` with its token). */
export function makeHold<T extends object>(call: Caller, base: string, token: number, expiresAt: number, fields: T): T & Hold {
  const hold = {
    ...fields,
    token,
    expiresAt,
    async renew(ttlMs?: number, opts: CallOptions = {}): Promise<number> {
      const r = await call("POST", `${base}/renew`, { token, ttl_ms: ttlMs }, opts.signal);
      hold.expiresAt = r.expires_at;
      return r.expires_at;
    },
    async release(opts: CallOptions = {}): Promise<boolean> {
      return (await call("POST", `${base}/release`, { token }, opts.signal)).released === true;
    },
    async [asyncDispose](): Promise<void> {
      await hold.release();
    },
  };
  return hold as T & Hold;
}

/**
 * Run `fn(signal)` while `hold` is held: renew it every `ttlMs / 3` (a renew
 * waits for the previous one), release it after `fn` settles — also when it
 * throws. When a renew fails for good (`not_found`/`conflict`: the hold is
 * lost), or fails otherwise with no time left before the next one, `signal`
 * aborts with a HushError saying so, and after `fn` settles that error is
 * thrown even if `fn` resolved (its work was not covered by the hold).
 * `outer` aborting aborts `signal` too. A failed release is not reported:
 * the hold ends by its TTL.
 */
export async function runHeld<T>(
  hold: Hold,
  what: string,
  ttlMs: number,
  fn: (signal: AbortSignal) => T | Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  const ctl = new AbortController();
  const onOuter = () => ctl.abort(outer!.reason);
  if (outer?.aborted) onOuter();
  else outer?.addEventListener("abort", onOuter, { once: true });
  const every = Math.max(1, Math.floor(ttlMs / 3));
  let lost: HushError | undefined;
  let done = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    try {
      await hold.renew();
    } catch (e) {
      if (done) return;
      const gone = e instanceof HushError && (e.code === "not_found" || e.code === "conflict");
      if (gone || Date.now() + every >= hold.expiresAt) {
        const why = e instanceof HushError ? e : new HushError("unavailable", String((e as Error)?.message ?? e));
        lost = new HushError(why.code, `${what} was lost while the function ran (renewal failed: ${why.message})`, why.detail);
        ctl.abort(lost);
        return;
      }
    }
    if (!done) timer = setTimeout(tick, every);
  };
  timer = setTimeout(tick, every);
  try {
    const result = await fn(ctl.signal);
    if (lost) throw lost;
    return result;
  } finally {
    done = true;
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuter);
    await hold.release().catch(() => {});
  }
}

export interface GetOrSetOptions extends CallOptions {
  /** TTL of the stored value, in ms (absent: the daemon's rules for a new key). */
  ttlMs?: number | undefined;
  /** The stored value's reads slide its expiry (PROTOCOL.md §8 "Expiry"). */
  slide?: boolean | undefined;
  /** How long a creator may take before others may take over, renewed while `factory` runs. Default 30 000 ms. */
  claimTtlMs?: number | undefined;
  /** How long to wait for another caller's value. Default `{ timeoutMs: 60_000 }`. */
  wait?: WaitOptions | undefined;
}

/**
 * getOrSet (PROTOCOL.md §8 `POST /v1/kv/{key}/claim`): claim the key — the
 * daemon answers its value, or a claim for this caller, in one step, or a
 * conflict while another caller holds the claim, which is waited out
 * (`wait`). The claimer runs `factory` (its claim renewed meanwhile),
 * writes the value with `if_absent` and releases the claim; if the key
 * appeared meanwhile (the claim had lapsed), it starts over and returns the
 * stored value. `factory` throwing releases the claim and rethrows; a
 * waiting caller then claims and runs its own factory. `factory` must
 * return a JSON value (not `undefined`).
 */
export async function getOrSetFlow<T>(call: Caller, base: string, factory: (signal: AbortSignal) => T | Promise<T>, opts: GetOrSetOptions): Promise<T> {
  const claimTtl = opts.claimTtlMs ?? 30_000;
  const signal = opts.signal;
  for (;;) {
    const r = await untilFree(() => call("POST", `${base}/claim`, { ttl_ms: claimTtl }, signal), opts.wait ?? { timeoutMs: 60_000 }, signal);
    if (r.state === "value") return r.value as T;
    const claim = makeHold(call, `${base}/claim`, r.token, r.expires_at, {});
    const made = await runHeld(claim, "the claim", claimTtl, async (s) => {
      const value = await factory(s);
      const body = { value, ttl_ms: opts.ttlMs, slide: opts.slide, if_absent: true };
      return { value, written: (await call("PUT", base, body, signal)).written === true };
    }, signal);
    if (made.written) return made.value;
  }
}
