/**
 * The seal checks of the audit verifier (PROTOCOL.md §9.8), one per
 * sealing format, and the run record they share with verify.ts.
 *
 * Format 2 (sealing.ts): the run's `key_id` must be the verification key's
 * (or, without a key, the file's first); epochs run without a gap from the
 * first sealed run of the file (`firstEpoch`, default 0) to the last, across
 * runs; a `start` line is followed at once by its start seal; every MAC is
 * checked under the key of the epoch the verifier expects, not the one the
 * line claims.
 *
 * Format 1 (hush 0.1.0, hash.ts): k0 opened from the `start` line with the
 * X25519 audit secret key, epochs 0, 1, 2 … per run, a ratchet. Verified
 * as before; its seals are weaker (anyone with the public key can re-seal a
 * run), which the verifier says in a warning.
 * @module
 */
import { fromB64u, wipe } from "../crypto/index.ts";
import { openBox } from "../crypto/box.ts";
import { K0_BOX_CONTEXT, ratchetKey, sealMac } from "./hash.ts";
import { SealChain, isSealKeyId, sealMacV2 } from "./sealing.ts";

/** A break in the log: where, and why. */
export class Break extends Error {
  constructor(
    readonly seq: number | null,
    readonly line: number,
    readonly reason: string,
    /** Every line passed; the file as a whole is wrong (keep the line count). */
    readonly whole = false,
  ) {
    super(reason);
  }
}

export type SealFormat = "v2" | "v1" | "none";

export interface Run {
  startSeq: number;
  format: SealFormat;
  keyId?: string;
  /** Format 1: k_e of the next seal, when the secret key was given. */
  key: Uint8Array | null;
  /** The epoch the next seal must have. */
  epoch: number;
  firstEpoch: number | null;
  lastEpoch: number | null;
  lastSealSeq: number | null;
  firstUnsealed: number | null;
  /** Format 2: the next line must be the start seal. */
  startSealDue: boolean;
  checked: boolean;
  stopped: boolean;
  closed: boolean;
}

/** What the format-2 checks carry from run to run. */
export interface ChainState {
  /** The verification key's walk, when a key was given. */
  chain: SealChain | null;
  /** The key id every format-2 run must have (the key's, else the file's first). */
  keyId: string | null;
  /** The epoch the next format-2 run must start at. */
  nextEpoch: number;
  /** A format-2 run has been seen. */
  seen: boolean;
  /** Epochs skipped at the start of the run whose start line is `beforeSeq` (see startRunV2). */
  skipped: { epoch: number; beforeSeq: number }[];
}

export function newRun(startSeq: number, format: SealFormat): Run {
  return { startSeq, format, key: null, epoch: 0, firstEpoch: null, lastEpoch: null, lastSealSeq: null, firstUnsealed: null, startSealDue: false, checked: false, stopped: false, closed: false };
}

/**
 * Start a format-2 run (its `start` line `o` at file line L). `prev` is the
 * run before it: when that run was not closed (no `stop` line and closing
 * seal) and this one starts exactly one epoch later than expected, the
 * epoch is taken as skipped (PROTOCOL.md §9.4: the daemon stopped after it
 * had replaced the sealing state and before the seal line was written) and
 * recorded in `g.skipped`, not a break; the caller warns, and `--closed`
 * fails on it.
 */
export function startRunV2(o: any, L: number, g: ChainState, firstEpoch: number, prev: Run | null = null): Run {
  if (!isSealKeyId(o.key_id) || !Number.isSafeInteger(o.epoch) || o.epoch < 0) throw new Break(o.seq, L, "malformed start line (key_id must be 12 b64u characters and epoch a non-negative integer)");
  if (g.chain && o.key_id !== g.chain.keyId) {
    throw new Break(o.seq, L, `this run was sealed with another verification key (key id ${o.key_id}; the key given has ${g.chain.keyId})`);
  }
  if (g.keyId !== null && o.key_id !== g.keyId) throw new Break(o.seq, L, `this run was sealed with another key (key id ${o.key_id}) than the runs before it (${g.keyId})`);
  const want = g.seen ? g.nextEpoch : firstEpoch;
  if (g.seen && o.epoch === want + 1 && prev?.format === "v2" && !prev.closed) {
    g.skipped.push({ epoch: want, beforeSeq: o.seq });
  } else if (o.epoch !== want) {
    let why: string;
    if (!g.seen) {
      why = `the first sealed run starts at epoch ${o.epoch}, not ${want}: `;
      why += o.epoch > want ? `epochs ${want}..${o.epoch - 1} are not in this file (its beginning was cut or replaced; if it continues an older file, pass --first-epoch)` : "it does not continue where the file it follows ended";
    } else if (o.epoch > want) {
      why = `this run starts at epoch ${o.epoch} where ${want} was expected: the sealed lines of epochs ${want}..${o.epoch - 1} were cut out`;
    } else {
      why = `this run starts at epoch ${o.epoch} where ${want} was expected: epochs ${o.epoch}..${want - 1} are used twice (a made-up or replayed run, or a sealing state restored from a backup)`;
    }
    throw new Break(o.seq, L, why);
  }
  g.keyId ??= o.key_id;
  g.seen = true;
  const run = newRun(o.seq, "v2");
  run.keyId = o.key_id;
  run.epoch = o.epoch;
  run.startSealDue = true;
  run.checked = g.chain !== null;
  return run;
}

/** Start a format-1 run; opens k0 with the secret key when given. */
export function startRunV1(o: any, L: number, secret: Uint8Array | undefined, g: ChainState): Run {
  if (g.seen) throw new Break(o.seq, L, "a run sealed in format 1 (an X25519 audit key) after runs sealed in format 2: a downgrade (the seals were replaced by weaker ones)");
  if (typeof o.key !== "string" || o.epoch !== 0) throw new Break(o.seq, L, "malformed start line (key must be a string and epoch 0)");
  const run = newRun(o.seq, "v1");
  if (secret) {
    try {
      run.key = openBox(secret, fromB64u(o.key), K0_BOX_CONTEXT);
      if (run.key.length !== 32) throw new Error("bad length");
    } catch {
      throw new Break(o.seq, L, "the sealing key in this start line does not open with the given audit secret key (another key, or a forged line)");
    }
    run.checked = true;
  }
  return run;
}

/** Check a seal line `o` (text `text`, file line L) of `run`, then move the run on. */
export function checkSeal(o: any, text: string, L: number, run: Run, g: ChainState): void {
  if (run.format === "none") throw new Break(o.seq, L, `a seal in a run without a sealing key (run started at seq ${run.startSeq})`);
  if (o.epoch !== run.epoch) {
    throw new Break(o.seq, L, `seal epoch ${JSON.stringify(o.epoch)} where ${run.epoch} was expected: a seal was dropped, replayed or moved`);
  }
  if (typeof o.mac !== "string" || !Number.isSafeInteger(o.ts)) throw new Break(o.seq, L, "malformed seal line");
  const from = run.lastSealSeq === null ? run.startSeq : run.lastSealSeq + 1;
  const fail = () => `seal of epoch ${run.epoch} does not verify: a line in seq ${from}..${o.seq - 1} was changed, inserted, deleted or reordered, or the seal was moved or forged`;
  if (run.format === "v2") {
    const canon = JSON.stringify({ seq: o.seq, ts: o.ts, type: o.type, prev: o.prev, key_id: o.key_id, epoch: o.epoch, mac: o.mac });
    if (canon !== text) throw new Break(o.seq, L, "seal line not in canonical form (seq, ts, type, prev, key_id, epoch, mac): it was changed");
    if (o.key_id !== run.keyId) throw new Break(o.seq, L, `seal with key id ${JSON.stringify(o.key_id)} in a run sealed with ${run.keyId}`);
    if (g.chain) {
      const k = g.chain.keyAt(run.epoch);
      const good = sealMacV2(k, run.keyId!, o.seq, run.epoch, o.prev, o.ts) === o.mac;
      wipe(k);
      if (!good) throw new Break(o.seq, L, fail());
    }
    g.nextEpoch = run.epoch + 1;
  } else {
    const canon = JSON.stringify({ seq: o.seq, ts: o.ts, type: o.type, prev: o.prev, epoch: o.epoch, mac: o.mac });
    if (canon !== text) throw new Break(o.seq, L, "seal line not in canonical form (seq, ts, type, prev, epoch, mac): it was changed");
    if (run.key) {
      if (sealMac(run.key, o.seq, run.epoch, o.prev, o.ts) !== o.mac) throw new Break(o.seq, L, fail());
      const next = ratchetKey(run.key);
      wipe(run.key);
      run.key = next;
    }
  }
  run.firstEpoch ??= run.epoch;
  run.lastEpoch = run.epoch;
  run.epoch++;
  run.lastSealSeq = o.seq;
  run.firstUnsealed = null;
  run.startSealDue = false;
  if (run.stopped) run.closed = true;
}
