/**
 * RFC 6455 framing for the SDK's own WebSocket client (ws-bun.ts): masked
 * client frames out (§5.3, a fresh mask per frame from the OS CSPRNG) and
 * a reader of unmasked server frames (§5.2: fragments joined, control
 * frames handed on, protocol violations reported as 1002, a message over
 * `MAX_MESSAGE` bytes as 1009).
 * @module
 */
import { randomBytes } from "../crypto/index.ts";

/** The longest message accepted from the server, in bytes. */
export const MAX_MESSAGE = 64 << 20;

/** Random bytes for frame masks, drawn 4 KiB at a time. */
let maskPool: Uint8Array = new Uint8Array(0);
let maskAt = 0;

/** Where the next 4 mask bytes start in `maskPool` (refilled when used up). */
function maskAtNext(): number {
  if (maskAt + 4 > maskPool.length) {
    maskPool = randomBytes(4096);
    maskAt = 0;
  }
  const at = maskAt;
  maskAt += 4;
  return at;
}

/** One masked client frame (FIN set) carrying `payload` with opcode `op`. */
export function clientFrame(op: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const hl = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(hl + 4 + n);
  out[0] = 0x80 | op;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  const m = maskAtNext();
  const k0 = maskPool[m]!, k1 = maskPool[m + 1]!, k2 = maskPool[m + 2]!, k3 = maskPool[m + 3]!;
  out[hl] = k0;
  out[hl + 1] = k1;
  out[hl + 2] = k2;
  out[hl + 3] = k3;
  const at = hl + 4;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    out[at + i] = payload[i]! ^ k0;
    out[at + i + 1] = payload[i + 1]! ^ k1;
    out[at + i + 2] = payload[i + 2]! ^ k2;
    out[at + i + 3] = payload[i + 3]! ^ k3;
  }
  for (; i < n; i++) out[at + i] = payload[i]! ^ maskPool[m + (i & 3)]!;
  return out;
}

export function closePayload(code: number, reason: string): Uint8Array {
  const r = Buffer.from(reason.slice(0, 120), "utf8");
  const p = new Uint8Array(2 + r.length);
  p[0] = code >>> 8;
  p[1] = code & 0xff;
  p.set(r, 2);
  return p;
}

/** What the frame reader reports. */
export interface FrameSink {
  /** One whole data message. */
  message(bytes: Uint8Array): void;
  text(): void;
  ping(payload: Uint8Array): void;
  /** The server's close frame. */
  closed(code: number, reason: string): void;
  /** A protocol violation by the server (1002, or 1009 for a message over MAX_MESSAGE). */
  violation(code: number, reason: string): void;
  /** Whether reading must stop (the connection is done). */
  readonly done: boolean;
}

/** Unmasked server frames (RFC 6455 §5.2) from a byte stream, fragments joined, control frames handed on. */
export class FrameReader {
  private inbuf: Uint8Array = new Uint8Array(0);
  private frags: Uint8Array[] = [];

  constructor(private readonly sink: FrameSink) {}

  /** Append bytes read from the socket (kept only while a frame is partial). */
  push(chunk: Uint8Array): void {
    this.inbuf = this.inbuf.length === 0 ? chunk : Buffer.concat([this.inbuf, chunk]);
  }

  /** The bytes held (the handshake reads its answer from them first). */
  get buffered(): Uint8Array {
    return this.inbuf;
  }

  /** Drop the first `n` bytes held (the handshake answer). */
  consume(n: number): void {
    this.inbuf = this.inbuf.subarray(n);
  }

  /** Read as many whole frames as are held. */
  read(): void {
    let at = 0;
    const b = this.inbuf;
    while (!this.sink.done) {
      if (b.length - at < 2) break;
      const b0 = b[at]!;
      const b1 = b[at + 1]!;
      if (b0 & 0x70) return this.sink.violation(1002, "reserved bits set");
      if (b1 & 0x80) return this.sink.violation(1002, "a masked frame from the server");
      let len = b1 & 0x7f;
      let hl = 2;
      if (len === 126) {
        if (b.length - at < 4) break;
        len = (b[at + 2]! << 8) | b[at + 3]!;
        hl = 4;
      } else if (len === 127) {
        if (b.length - at < 10) break;
        const big = new DataView(b.buffer, b.byteOffset + at + 2, 8).getBigUint64(0);
        if (big > BigInt(MAX_MESSAGE)) return this.sink.violation(1009, "message too big");
        len = Number(big);
        hl = 10;
      }
      if (len > MAX_MESSAGE) return this.sink.violation(1009, "message too big");
      if (b.length - at < hl + len) break;
      const ok = this.frame((b0 & 0x80) !== 0, b0 & 0x0f, b.subarray(at + hl, at + hl + len));
      at += hl + len;
      if (!ok) return;
    }
    // A partial frame is copied: it must not depend on the chunk staying untouched.
    this.inbuf = at === b.length ? new Uint8Array(0) : b.slice(at);
  }

  /** Handle one complete frame; false stops reading. */
  private frame(fin: boolean, op: number, payload: Uint8Array): boolean {
    const sink = this.sink;
    if (op === 0x8) {
      const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
      sink.closed(code, payload.length > 2 ? Buffer.from(payload.subarray(2)).toString("utf8") : "");
      return false;
    }
    if (op === 0x9) return sink.ping(payload), true;
    if (op === 0xa) return true;
    if (op === 0x1) return sink.text(), true;
    if (op !== 0x2 && op !== 0x0) return sink.violation(1002, `unknown opcode ${op}`), false;
    if ((op === 0x2) === this.frags.length > 0) return sink.violation(1002, "unexpected continuation frame"), false;
    if (fin && this.frags.length === 0) return sink.message(payload), !sink.done;
    this.frags.push(payload.slice());
    if (this.frags.reduce((s, f) => s + f.length, 0) > MAX_MESSAGE) return sink.violation(1009, "message too big"), false;
    if (fin) {
      const whole = Buffer.concat(this.frags);
      this.frags = [];
      sink.message(whole);
    }
    return !sink.done;
  }
}

