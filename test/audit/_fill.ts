/**
 * Test helper: fill a (small, test-mounted) filesystem to its last byte by
 * writing `path` until ENOSPC, in 4 KiB writes, then ever smaller ones.
 */
import { closeSync, openSync, writeSync } from "node:fs";

export function fillUntilFull(path: string): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(4096, 0x61);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e: any) {
    if (e.code !== "ENOSPC") throw e;
    for (let n = 512; n >= 1; n >>= 1) {
      try {
        for (;;) writeSync(fd, chunk, 0, n);
      } catch {}
    }
  } finally {
    closeSync(fd);
  }
}
