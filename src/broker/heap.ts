/**
 * Binary min-heaps for the broker's expiry order and free-slot order.
 *
 * - `IndexedHeap<T>`: items ordered by a numeric key; each item remembers
 *   its own position (`_h`, -1 when outside the heap), so removing or
 *   re-keying any item is O(log n), not a search.
 * - `IntHeap`: non-negative integers, smallest first (free slot numbers).
 *
 * Both are the textbook array heap (CLRS §6): children of i at 2i+1, 2i+2.
 * @module
 */

/** An item that can sit in one `IndexedHeap`: `_h` is its index there, -1 when outside. */
export interface HeapItem {
  _h: number;
}

export class IndexedHeap<T extends HeapItem> {
  private readonly _a: T[] = [];

  /** `key(item)` must not change while the item is in the heap, except through `update`. */
  constructor(private readonly _key: (item: T) => number) {}

  get size(): number {
    return this._a.length;
  }

  /** The item with the smallest key, or undefined. O(1). */
  peek(): T | undefined {
    return this._a[0];
  }

  /** Add an item that is not in the heap. O(log n). */
  push(item: T): void {
    item._h = this._a.length;
    this._a.push(item);
    this._up(item._h);
  }

  /** Remove and return the smallest item. O(log n). */
  pop(): T | undefined {
    const top = this._a[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Remove an item if it is in this heap. O(log n). */
  remove(item: T): void {
    const i = item._h;
    if (i < 0 || this._a[i] !== item) return;
    const last = this._a.pop()!;
    item._h = -1;
    if (last === item) return;
    this._a[i] = last;
    last._h = i;
    this._down(i);
    this._up(last._h);
  }

  /** Restore the order after an item's key changed. O(log n). */
  update(item: T): void {
    if (item._h < 0) return;
    this._up(item._h);
    this._down(item._h);
  }

  clear(): void {
    for (const x of this._a) x._h = -1;
    this._a.length = 0;
  }

  private _up(i: number): void {
    const a = this._a;
    const x = a[i];
    const k = this._key(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this._key(a[p]) <= k) break;
      a[i] = a[p];
      a[i]._h = i;
      i = p;
    }
    a[i] = x;
    x._h = i;
  }

  private _down(i: number): void {
    const a = this._a;
    const n = a.length;
    const x = a[i];
    const k = this._key(x);
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this._key(a[c + 1]) < this._key(a[c])) c++;
      if (this._key(a[c]) >= k) break;
      a[i] = a[c];
      a[i]._h = i;
      i = c;
    }
    a[i] = x;
    x._h = i;
  }
}

export class IntHeap {
  private readonly _a: number[];

  /** A heap holding 0 … n-1 (an ascending array is already a heap). */
  constructor(n = 0) {
    this._a = Array.from({ length: n }, (_, i) => i);
  }

  get size(): number {
    return this._a.length;
  }

  /** The smallest number, or -1 when empty. O(1). */
  peek(): number {
    return this._a.length === 0 ? -1 : this._a[0];
  }

  /** Remove and return the smallest number, or -1 when empty. O(log n). */
  pop(): number {
    const a = this._a;
    if (a.length === 0) return -1;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && a[c + 1] < a[c]) c++;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }

  /** Add a number. O(log n). */
  push(v: number): void {
    const a = this._a;
    let i = a.length;
    a.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= v) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = v;
  }
}
