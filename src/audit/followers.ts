/**
 * The followers of a live audit run (`GET /v1/admin/audit?follow`, `hush
 * audit tail -f`): each gets the text of every line once it is in the file,
 * and is told when the run has ended. While a change's records are being
 * committed (AuditWriter.commit), lines are held back and handed out only
 * once all of them are in the file, so a follower never sees records that
 * are then taken back. A listener that throws is ignored.
 * @module
 */
import { fromUtf8 } from "../crypto/index.ts";

export class Followers {
  private readonly listeners = new Set<(line: string) => void>();
  private readonly closers = new Set<() => void>();
  private held: Uint8Array[] | null = null;

  /** Add a listener (and what to run when the run ends); returns the unsubscribe function. */
  add(listener: (line: string) => void, onClose?: () => void): () => void {
    this.listeners.add(listener);
    if (onClose) this.closers.add(onClose);
    return () => {
      this.listeners.delete(listener);
      if (onClose) this.closers.delete(onClose);
    };
  }

  /** A line (with its newline) is in the file: hand it out, or keep it while held. */
  written(bytes: Uint8Array): void {
    if (this.held) this.held.push(bytes);
    else this.tell([bytes]);
  }

  /** Keep the lines written from now on until `release()`. */
  hold(): void {
    this.held = [];
  }

  /** Stop holding; the lines kept, for the caller to hand out or drop. */
  release(): Uint8Array[] {
    const held = this.held ?? [];
    this.held = null;
    return held;
  }

  /** Hand lines (each with its newline) to the listeners. */
  tell(lines: Uint8Array[]): void {
    if (this.listeners.size === 0) return;
    for (const bytes of lines) {
      const text = fromUtf8(bytes.subarray(0, bytes.length - 1));
      for (const l of this.listeners) {
        try {
          l(text);
        } catch {}
      }
    }
  }

  /** The run has ended: drop the listeners, run each onClose once. */
  end(): void {
    this.listeners.clear();
    for (const c of this.closers) {
      try {
        c();
      } catch {}
    }
    this.closers.clear();
  }
}
