/**
 * Test helper: the tools of an attacker who can write the audit file and has
 * stolen the daemon's sealing state file (epoch n, S_n, key id) and every
 * public key — but not the verification key. They can re-chain (renumber
 * `seq`, recompute `prev`), and seal with K_n, K_{n+1}, … derived from the
 * stolen state, exactly as the daemon would.
 */
import { K0_BOX_CONTEXT, ZERO_PREV, epochSealKey, evolveSealState, lineHash, ratchetKey, sealMac, sealMacV2 } from "../../src/audit/index.ts";
import { randomBytes, toB64u } from "../../src/crypto/index.ts";
import { sealBox } from "../../src/crypto/box.ts";

export interface Stolen {
  epoch: number;
  keyId: string;
  state: Uint8Array;
}

/** The attacker's sealing: keys from the stolen state on, never before it. */
export class Forger {
  private state: Uint8Array;
  epoch: number;
  readonly keyId: string;

  constructor(s: Stolen) {
    this.state = s.state.slice();
    this.epoch = s.epoch;
    this.keyId = s.keyId;
  }

  /** K_e for e ≥ the stolen epoch; for an earlier epoch the best they have is their current key. */
  keyFor(e: number): Uint8Array {
    while (this.epoch < e) {
      this.state = evolveSealState(this.state);
      this.epoch++;
    }
    return epochSealKey(this.state);
  }
}

/**
 * Re-chain `lines` and re-seal every seal line. `renumber`: give the sealed
 * runs the attacker's epochs (from the stolen one on, continuous), so every
 * MAC is right but the epochs do not start where the verifier expects;
 * otherwise keep each seal's epoch (MACs of earlier epochs cannot be right).
 */
export function rechainAndReseal(lines: string[], stolen: Stolen, renumber: boolean): string[] {
  const f = new Forger(stolen);
  let prev = ZERO_PREV;
  let next = stolen.epoch;
  return lines.map((l, i) => {
    const o = JSON.parse(l);
    o.seq = i + 1;
    o.prev = prev;
    if (o.type === "start" && o.key_id !== undefined && renumber) o.epoch = next;
    if (o.type === "seal") {
      const e = renumber ? next++ : o.epoch;
      const { seq, ts, type } = o;
      const s = JSON.stringify({ seq, ts, type, prev, key_id: f.keyId, epoch: e, mac: sealMacV2(f.keyFor(Math.max(e, f.epoch)), f.keyId, seq, e, prev, ts) });
      prev = lineHash(s);
      return s;
    }
    const s = JSON.stringify(o);
    prev = lineHash(s);
    return s;
  });
}

/**
 * Append a made-up run after `lines`, sealed with the stolen state from its
 * epoch on: start, start seal, `events`, stop, closing seal — every line
 * exactly as the daemon would write it.
 */
export function appendFabricatedRun(lines: string[], stolen: Stolen, events: Record<string, string>[]): string[] {
  const f = new Forger(stolen);
  const out = lines.slice();
  let seq = JSON.parse(out[out.length - 1]).seq;
  let prev = lineHash(out[out.length - 1]);
  const ts = JSON.parse(out[out.length - 1]).ts + 1000;
  const push = (o: Record<string, unknown>) => {
    const { type, ...rest } = o; // key order seq, ts, type, prev, …
    const line = JSON.stringify({ seq: ++seq, ts, type, prev, ...rest });
    prev = lineHash(line);
    out.push(line);
  };
  const seal = () => {
    const e = f.epoch;
    const line = JSON.stringify({ seq: ++seq, ts, type: "seal", prev, key_id: f.keyId, epoch: e, mac: sealMacV2(f.keyFor(e), f.keyId, seq, e, prev, ts) });
    prev = lineHash(line);
    out.push(line);
    f.keyFor(e + 1);
  };
  push({ type: "start", v: 2, version: "0.1.0", hmac_key_id: "AAAAAAAAAAAA", key_id: f.keyId, epoch: f.epoch, seal_every: 100, seal_interval_ms: 10000 });
  seal();
  for (const ev of events) push({ type: "event", ...ev });
  push({ type: "stop" });
  seal();
  return out;
}

/**
 * The downgrade attack (issue 12 follow-up, finding 1): an attacker who can
 * write the file and holds the format-1 audit PUBLIC key (hush 0.1.0 kept it
 * on the host) rewrites every format-2 run as a format-1 run — a k0 of their
 * own boxed to that key in each `start` line, format-1 seals (epochs from 0
 * per run) under its ratchet; the format-1 runs are re-sealed the same way —
 * drops the lines `drop` selects, and re-chains the whole file. With `pub`
 * null, every seal and sealing field is removed instead (an unsealed file).
 */
export function downgradeFormat2(lines: string[], pub: Uint8Array | null, drop: (o: any) => boolean = () => false): string[] {
  let prev = ZERO_PREV;
  let key: Uint8Array = new Uint8Array(32);
  let epoch = 0;
  const out: string[] = [];
  for (const l of lines) {
    const o = JSON.parse(l);
    if (drop(o)) continue;
    if (pub === null && o.type === "seal") continue;
    o.seq = out.length + 1;
    o.prev = prev;
    if (o.type === "start" && (o.key_id !== undefined || o.key !== undefined)) {
      delete o.key_id, delete o.key, delete o.epoch, delete o.seal_every, delete o.seal_interval_ms;
      if (pub) {
        key = randomBytes(32);
        epoch = 0;
        o.v = 1;
        o.key = toB64u(sealBox(pub, key, K0_BOX_CONTEXT));
        o.epoch = 0;
      }
    }
    let s: string;
    if (o.type === "seal") {
      const e = epoch++;
      s = JSON.stringify({ seq: o.seq, ts: o.ts, type: "seal", prev, epoch: e, mac: sealMac(key, o.seq, e, prev, o.ts) });
      key = ratchetKey(key);
    } else s = JSON.stringify(o);
    prev = lineHash(s);
    out.push(s);
  }
  return out;
}
