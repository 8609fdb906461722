/**
 * Secret masking (DESIGN.md invariant 2). Every registered secret is
 * replaced by `***`, in its raw form and in every common encoding of it
 * (see mask-forms.ts), before a line is written anywhere.
 *
 * Costs (the masker sits on every log line and audit field):
 * - `add` is O(size of the secret); `release`/`expire` are O(size of what
 *   they drop) (+ O(log n) per deadline). Nothing is ever rebuilt.
 * - `mask` is O(length of the text): see fingerprint.ts.
 * - Neither ever throws: a secret that cannot be registered is counted in
 *   `failures`; a line that cannot be masked is withheld, never written raw.
 *
 * Lifetime: a secret is registered under an owner (`key:w_…`, `token:t_…`,
 * `cred:NAME`, `server-key:s_…`) and leaves the masker when its owner ends
 * (`release`), or at a deadline (`until`, `retire`) checked by `expire`.
 * Two registrations may share a form; the form stays while either holds it.
 *
 * Overlapping or adjacent matches of different secrets are masked as one
 * run, so no character of either survives (the runner's and Azure agent's
 * tests). Base64 or hex wrapped over lines (76 columns from `base64`, 64 in
 * PEM), raw or inside a JSON string (`\n`), is found by a second scan that
 * skips line breaks; each line's share of it is masked and the line breaks
 * are kept.
 * @module
 */
import { encodedForms, MIN_FORM_LEN } from "./mask-forms.ts";
import { FingerprintIndex, type PatternKeys } from "./fingerprint.ts";

export { encodedForms, MIN_FORM_LEN } from "./mask-forms.ts";

const MASK = "***";
/** What is written instead of a line the masker failed on (never the raw line). */
export const WITHHELD = "[hush: line withheld: masking failed]";

interface Registration {
  owner: string;
  until: number;
  keys: PatternKeys;
  live: boolean;
}

export interface AddOptions {
  /** Who the secret belongs to: `release(owner)` drops it (default: kept for the process's life). */
  owner?: string;
  /** Epoch ms after which the secret may leave the masker (`expire`). */
  until?: number;
}

/** Min-heap of deadlines (lazy: entries of dropped or re-dated registrations are skipped). */
class Deadlines {
  private readonly at: number[] = [];
  private readonly regs: Registration[] = [];

  push(at: number, reg: Registration): void {
    let i = this.at.length;
    this.at.push(at);
    this.regs.push(reg);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.at[p] <= at) break;
      this.swap(i, p);
      i = p;
    }
  }

  get size(): number {
    return this.at.length;
  }

  /** Keep only the entries `keep` accepts (drops those of released or re-dated registrations). O(n). */
  compact(keep: (at: number, reg: Registration) => boolean): void {
    const entries = this.at.map((at, i) => [at, this.regs[i]] as const).filter(([at, reg]) => keep(at, reg));
    this.at.length = 0;
    this.regs.length = 0;
    for (const [at, reg] of entries) this.push(at, reg);
  }

  /** The registration with the earliest deadline ≤ now, removed from the heap, or undefined. */
  popDue(now: number): Registration | undefined {
    if (this.at.length === 0 || this.at[0] > now) return undefined;
    const reg = this.regs[0];
    const last = this.at.length - 1;
    this.swap(0, last);
    this.at.pop();
    this.regs.pop();
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < last && this.at[l] < this.at[m]) m = l;
      if (r < last && this.at[r] < this.at[m]) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return reg;
  }

  private swap(i: number, j: number): void {
    [this.at[i], this.at[j]] = [this.at[j], this.at[i]];
    [this.regs[i], this.regs[j]] = [this.regs[j], this.regs[i]];
  }
}

/** Line breaks the second scan steps over: CR, LF, and their JSON escapes. */
const HAS_BREAK = /[\r\n]|\\[rn]/;

export class Masker {
  private readonly index = new FingerprintIndex();
  private readonly owners = new Map<string, Registration[]>();
  private readonly deadlines = new Deadlines();
  /** Live registrations that have a deadline (the heap also holds entries of released ones). */
  private dated = 0;
  /** Secrets that could not be registered, and lines that could not be masked (withheld). */
  failures = 0;

  /**
   * Register a secret (string or bytes) to be masked from now on, in every
   * form of `encodedForms`. O(size of the secret). Never throws.
   */
  add(secret: string | Uint8Array, opts: AddOptions = {}): void {
    try {
      const keys: PatternKeys = [];
      for (const f of encodedForms(secret)) this.index.add(f, keys);
      if (keys.length === 0) return;
      const reg: Registration = { owner: opts.owner ?? "", until: opts.until ?? Infinity, keys, live: true };
      const list = this.owners.get(reg.owner);
      if (list) list.push(reg);
      else this.owners.set(reg.owner, [reg]);
      if (Number.isFinite(reg.until)) {
        this.deadlines.push(reg.until, reg);
        this.dated++;
      }
    } catch {
      this.failures++;
    }
  }

  /** Forget every secret of `owner` (its object ended). Returns how many registrations were dropped. */
  release(owner: string): number {
    const list = this.owners.get(owner);
    if (!list) return 0;
    this.owners.delete(owner);
    for (const reg of list) this.unregister(reg);
    return list.length;
  }

  /**
   * The secrets `owner` holds now leave at `atMs` at the latest (a rotated
   * key that stays usable for a grace period); later registrations of the
   * same owner are not affected.
   */
  retire(owner: string, atMs: number): void {
    for (const reg of this.owners.get(owner) ?? []) {
      if (atMs < reg.until) {
        if (!Number.isFinite(reg.until)) this.dated++;
        reg.until = atMs;
        this.deadlines.push(atMs, reg);
      }
    }
  }

  /** Drop every registration whose deadline is ≤ `now` (epoch ms). Returns how many. */
  expire(now: number): number {
    let n = 0;
    for (let reg = this.deadlines.popDue(now); reg; reg = this.deadlines.popDue(now)) {
      if (!reg.live || reg.until > now) continue;
      const list = this.owners.get(reg.owner)!;
      list.splice(list.indexOf(reg), 1);
      if (list.length === 0) this.owners.delete(reg.owner);
      this.unregister(reg);
      n++;
    }
    return n;
  }

  private unregister(reg: Registration): void {
    reg.live = false;
    for (let i = 0; i < reg.keys.length; i += 3) this.index.remove(reg.keys, i);
    reg.keys = [];
    if (Number.isFinite(reg.until)) this.dated--;
    // Entries of released secrets wait in the heap for their deadline; drop them once they outnumber the live ones.
    if (this.deadlines.size > 2 * this.dated + 1024) this.deadlines.compact((at, r) => r.live && r.until === at);
  }

  /** Distinct forms held. */
  get size(): number {
    return this.index.size;
  }

  /** Owners with at least one live secret. */
  get ownerCount(): number {
    return this.owners.size;
  }

  /** `text` with every registered form replaced by `***`. O(text length). Never throws. */
  mask(text: string): string {
    if (this.index.size === 0 || text.length < MIN_FORM_LEN) return text;
    try {
      return this.maskText(text);
    } catch {
      this.failures++;
      return WITHHELD;
    }
  }

  private maskText(text: string): string {
    const n = text.length;
    const codes = new Uint16Array(n);
    for (let i = 0; i < n; i++) codes[i] = text.charCodeAt(i);
    let direct: Int32Array | null = null; // +1/-1 at the edges of matches found as written
    this.index.scan(codes, n, (s, e) => {
      direct ??= new Int32Array(n + 1);
      direct[s]++;
      direct[e]--;
    });
    const wrapped = HAS_BREAK.test(text) ? this.scanAcrossBreaks(text, codes) : null;
    if (!direct && !wrapped) return text;
    let out = "";
    let from = 0;
    let inRun = false;
    let c1 = 0;
    let c2 = 0;
    for (let i = 0; i < n; i++) {
      if (direct) c1 += direct[i];
      if (wrapped) c2 += wrapped.edges[i];
      // A line break inside a match found across breaks is kept, so lines stay lines.
      const covered = c1 > 0 || (c2 > 0 && wrapped!.isBreak[i] === 0);
      if (covered && !inRun) {
        out += text.slice(from, i) + MASK;
        inRun = true;
      } else if (!covered && inRun) {
        from = i;
        inRun = false;
      }
    }
    return inRun ? out : out + text.slice(from);
  }

  /** Scan `text` with its line breaks (CR, LF, `\r`, `\n`) removed; matches mapped back to `text`. */
  private scanAcrossBreaks(text: string, codes: Uint16Array): { edges: Int32Array; isBreak: Uint8Array } | null {
    const n = text.length;
    const isBreak = new Uint8Array(n);
    const joined = new Uint16Array(n);
    const at = new Int32Array(n); // position in `text` of each joined code unit
    let m = 0;
    for (let i = 0; i < n; i++) {
      const c = codes[i];
      if (c === 10 || c === 13) isBreak[i] = 1;
      else if (c === 92 && i + 1 < n && (codes[i + 1] === 110 || codes[i + 1] === 114)) isBreak[i] = isBreak[i + 1] = 1;
      if (isBreak[i]) {
        if (c === 92) i++;
        continue;
      }
      joined[m] = c;
      at[m++] = i;
    }
    let edges: Int32Array | null = null;
    this.index.scan(joined, m, (s, e) => {
      edges ??= new Int32Array(n + 1);
      edges[at[s]]++;
      edges[at[e - 1] + 1]--;
    });
    return edges ? { edges, isBreak } : null;
  }
}
