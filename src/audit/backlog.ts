/**
 * The audit writer's backlog: lines made but not yet (wholly) in the file,
 * written in order with write(2), resuming a line the file took only part
 * of. A line may be gated (a seal, or a sealed run's `stop` line): before
 * its first byte is written the writer's gate must pass (the evolved sealing
 * state saved, PROTOCOL.md §9.4). Seal lines are counted, so that the writer
 * makes no new seal while one waits.
 * @module
 */
import { writeSync } from "node:fs";

export interface BacklogLine {
  /** The line with its newline. */
  bytes: Uint8Array;
  seal: boolean;
  /** Write only once the writer's gate passed. */
  gate: boolean;
}

/** The outcome of `drain`: every line written (`sync`: a seal among them, so fdatasync), or the error that stopped it. */
export type DrainResult = { ok: true; sync: boolean } | { ok: false; error: unknown };

export class Backlog {
  private lines: BacklogLine[] = [];
  /** Seal lines waiting. */
  seals = 0;
  /** Bytes of the first line already in the file. */
  offset = 0;
  /** Bytes waiting, with newlines. */
  bytes = 0;

  get length(): number {
    return this.lines.length;
  }

  push(line: BacklogLine): void {
    this.lines.push(line);
    this.bytes += line.bytes.length;
    if (line.seal) this.seals++;
  }

  /**
   * Write the lines to `fd` in order. Before a gated line's first byte,
   * `gate()` runs (it throws to hold the line back). After each whole line,
   * `written(line)` runs; it may push more lines, which are written too.
   */
  drain(fd: number, gate: () => void, written: (line: BacklogLine) => void): DrainResult {
    let sync = false;
    while (this.lines.length > 0) {
      const p = this.lines[0];
      try {
        if (p.gate && this.offset === 0) gate();
        const n = writeSync(fd, p.bytes, this.offset, p.bytes.length - this.offset);
        if (n <= 0) throw Object.assign(new Error("write returned 0"), { code: "EIO" });
        this.offset += n;
      } catch (error) {
        return { ok: false, error };
      }
      if (this.offset < p.bytes.length) continue;
      this.lines.shift();
      this.offset = 0;
      this.bytes -= p.bytes.length;
      if (p.seal) this.seals--;
      sync ||= p.seal;
      written(p);
    }
    return { ok: true, sync };
  }

  /** Forget every line (a commit taken back). */
  clear(): void {
    this.lines = [];
    this.seals = 0;
    this.offset = 0;
    this.bytes = 0;
  }
}
