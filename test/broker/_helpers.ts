/**
 * Shared test helpers for the broker store: a manual clock and error checks.
 * @module
 */
import { expect } from "bun:test";
import { HushError, type ErrorCode } from "../../src/errors.ts";
import { MemoryStore, type StoreLimits } from "../../src/broker/index.ts";

export const T0 = 1_700_000_000_000;

/** A clock that only moves when told to. */
export class FakeClock {
  t = T0;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function makeStore(limits?: Partial<StoreLimits>): { store: MemoryStore; clock: FakeClock } {
  const clock = new FakeClock();
  return { store: new MemoryStore({ now: clock.now, limits }), clock };
}

/** Run `fn`, expect a HushError with `code`; return it for further checks. */
export function expectCode(fn: () => unknown, code: ErrorCode): HushError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(HushError);
  expect((caught as HushError).code).toBe(code);
  return caught as HushError;
}

/** The error code `fn` throws, or "ok". */
export function outcome(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (e instanceof HushError) return e.code;
    throw e;
  }
}

const enc = new TextEncoder();
/** The JSON bytes of a value, as the server would hand them over. */
export function json(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

export function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

export function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}
