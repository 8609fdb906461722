/**
 * An ordered set of strings (UTF-16 code-unit order, JavaScript's `<`) for
 * paged listings: a sorted list of sorted chunks of at most 1 024 strings.
 *
 * Cost: insert and remove are O(log n) comparisons plus moving at most one
 * chunk's entries (≤ 1 024 pointers) and, when a chunk splits or empties,
 * the chunk list (n / 512 pointers); `seek` is O(log n); reading on from a
 * position is O(1) per string. Nothing is O(n) per call.
 * @module
 */

const MAX_CHUNK = 1024;

/** A position in the set: chunk index and index inside it. */
export interface Cursor {
  c: number;
  i: number;
}

export class SortedKeys {
  private _chunks: string[][] = [];
  private _size = 0;

  get size(): number {
    return this._size;
  }

  /** Add `k` (no-op when present). */
  insert(k: string): void {
    const chunks = this._chunks;
    if (chunks.length === 0) {
      chunks.push([k]);
      this._size = 1;
      return;
    }
    let c = this._chunkFor(k);
    if (c === chunks.length) c--; // larger than everything: append to the last chunk
    const chunk = chunks[c];
    const i = _lowerBound(chunk, k);
    if (chunk[i] === k) return;
    chunk.splice(i, 0, k);
    this._size++;
    if (chunk.length > MAX_CHUNK) chunks.splice(c + 1, 0, chunk.splice(chunk.length >> 1));
  }

  /** Remove `k`; true when it was present. */
  remove(k: string): boolean {
    const c = this._chunkFor(k);
    const chunk = this._chunks[c];
    if (chunk === undefined) return false;
    const i = _lowerBound(chunk, k);
    if (chunk[i] !== k) return false;
    chunk.splice(i, 1);
    this._size--;
    if (chunk.length === 0) this._chunks.splice(c, 1);
    return true;
  }

  /** The position of the first string ≥ `k` (or > `k` when `after`). */
  seek(k: string, after = false): Cursor {
    const chunks = this._chunks;
    let c = this._chunkFor(k);
    if (c === chunks.length) return { c, i: 0 };
    const chunk = chunks[c];
    let i = _lowerBound(chunk, k);
    if (after && chunk[i] === k) i++;
    if (i === chunk.length) {
      c++;
      i = 0;
    }
    return { c, i };
  }

  /** The string at `pos` and advance `pos`, or undefined at the end. */
  next(pos: Cursor): string | undefined {
    const chunk = this._chunks[pos.c];
    if (chunk === undefined) return undefined;
    const k = chunk[pos.i];
    if (++pos.i >= chunk.length) {
      pos.c++;
      pos.i = 0;
    }
    return k;
  }

  clear(): void {
    this._chunks = [];
    this._size = 0;
  }

  /** Index of the first chunk whose last string is ≥ `k` (chunks.length when none). */
  private _chunkFor(k: string): number {
    const chunks = this._chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const last = chunks[mid][chunks[mid].length - 1];
      if (last < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** First index in sorted `a` whose string is ≥ `k`. */
function _lowerBound(a: string[], k: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
