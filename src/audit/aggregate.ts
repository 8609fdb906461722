/**
 * Collapsing identical failures in the audit log (PROTOCOL.md §9.5): the
 * first of a kind (same actor, via, action, target, result, reason) is
 * written at once; repeats within `windowMs` of it are only counted, and
 * become one line with `count` and `repeat_of` when the window ends. At
 * most 4096 kinds are tracked; the oldest window is ended early beyond
 * that. Events with a `source` or `failures` field were accounted by the
 * caller (src/server/failures.ts) and are never collapsed here.
 * @module
 */
import type { EventFields } from "./event.ts";

const MAX_AGGREGATES = 4096;

type Aggregate = { fields: EventFields; firstSeq: number; windowStart: number; count: number };

export class FailureAggregator {
  private readonly open = new Map<string, Aggregate>();

  constructor(private readonly windowMs: number) {}

  /** The kind of a failure that may be collapsed; null for what is always written (a success, accounted failures, no window). */
  kindOf(fields: EventFields): string | null {
    const result = fields.result;
    if (result === undefined || result === "ok" || this.windowMs <= 0 || fields.source !== undefined || fields.failures !== undefined) return null;
    return JSON.stringify([fields.actor, fields.via, fields.action, fields.target, fields.result, fields.reason]);
  }

  /** Count a repeat of `kind` when its window is open; false when the event must be written. */
  fold(kind: string): boolean {
    const agg = this.open.get(kind);
    if (!agg) return false;
    agg.count++;
    return true;
  }

  /** Open the window of `kind`, first written as line `seq` at `now` (ms); ends the oldest window first when full. */
  opened(kind: string, fields: EventFields, seq: number, now: number, write: (fields: EventFields) => void): void {
    if (this.open.size >= MAX_AGGREGATES) this.end(now, true, write, 1);
    this.open.set(kind, { fields, firstSeq: seq, windowStart: now, count: 0 });
  }

  /** End the windows that are over at `now` (all of them, or the oldest `limit`), writing the repeat counts. */
  end(now: number, all: boolean, write: (fields: EventFields) => void, limit = Infinity): void {
    for (const [kind, agg] of this.open) {
      if (limit-- <= 0) break;
      if (!all && now - agg.windowStart < this.windowMs) continue;
      this.open.delete(kind);
      if (agg.count > 0) write({ ...agg.fields, count: agg.count, repeat_of: agg.firstSeq });
    }
  }
}
