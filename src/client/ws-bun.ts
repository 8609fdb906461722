/**
 * A small RFC 6455 WebSocket client over `Bun.connect`, for the SDK's
 * WebSocket transport in Bun (ws-open.ts). It exists for one reason: Bun's
 * built-in WebSocket client makes one write system call per message and
 * cannot batch, and that write was a third of the SDK's CPU time per
 * request (docs/PERFORMANCE.md). This client gathers the frames sent while
 * other requests are in flight and writes them with one call at the end of
 * the event-loop turn; a frame sent when nothing else is in flight goes out
 * at once (no added latency for a sequential caller). It can also be
 * unref'd, so an idle `Client` does not keep the process alive.
 *
 * What it speaks, and nothing more: the opening handshake of RFC 6455 §4.1
 * (the `Sec-WebSocket-Accept` check included), masked binary frames out
 * (§5.3, a fresh mask per frame from the OS CSPRNG), unmasked frames in
 * (binary messages, continuations, ping → pong, close; a text frame is
 * handed on as `text`, as the built-in client does), and the closing
 * handshake. No extensions, no subprotocols. A protocol violation by the
 * server closes the connection with 1002 (1009 for a message over
 * `MAX_MESSAGE` bytes).
 * @module
 */
import type { Socket } from "bun";
import { randomBytes, wsAccept } from "../crypto/index.ts";

/** The longest message accepted from the server, in bytes. */
export const MAX_MESSAGE = 64 << 20;

export interface BunWsEvents {
  message(bytes: Uint8Array): void;
  /** A text frame arrived (the hush protocol has none). */
  text(): void;
  close(code: number, reason: string): void;
}

export interface BunWs {
  /** Queue one binary message; `now` writes it (and anything queued) at once. */
  send(bytes: Uint8Array, now: boolean): void;
  close(code?: number, reason?: string): void;
  ref(): void;
  unref(): void;
  /** Write system calls made for frames so far (the batching, observable). */
  readonly writes: number;
}

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

function closePayload(code: number, reason: string): Uint8Array {
  const r = Buffer.from(reason.slice(0, 120), "utf8");
  const p = new Uint8Array(2 + r.length);
  p[0] = code >>> 8;
  p[1] = code & 0xff;
  p.set(r, 2);
  return p;
}

/** Errors while opening: `why` says what happened (the caller words the HushError). */
export class OpenError extends Error {
  constructor(
    message: string,
    /** The HTTP status of an upgrade the server answered without 101 (it runs, and refused); 0 otherwise. */
    readonly status = 0,
  ) {
    super(message);
  }
}

/**
 * Connect to the unix socket at `path` and upgrade `GET target`. Resolves
 * once the server accepted the upgrade; rejects with OpenError (nothing was
 * sent but the upgrade request) otherwise.
 */
export function connectBunWs(path: string, target: string, events: BunWsEvents): Promise<BunWs> {
  const key = Buffer.from(randomBytes(16)).toString("base64");
  return new Promise((resolve, reject) => {
    let sock: Socket<undefined> | undefined;
    let open = false;
    let done = false;
    let inbuf: Uint8Array = new Uint8Array(0);
    let frags: Uint8Array[] = [];
    let queue: Uint8Array[] = [];
    let out: Uint8Array | undefined; // bytes the socket did not take yet
    let flushing = false;
    let closeSent = false;
    let writes = 0;
    let refused = 0;

    const finish = (code: number, reason: string) => {
      if (done) return;
      done = true;
      if (!open) reject(new OpenError(reason || `closed (${code})`, refused));
      else events.close(code, reason);
      sock?.end();
    };
    const write = () => {
      flushing = false;
      if (!sock || queue.length === 0) return;
      const chunk = queue.length === 1 ? queue[0]! : Buffer.concat(queue);
      queue = [];
      if (out) {
        out = Buffer.concat([out, chunk]);
        return;
      }
      writes++;
      const n = sock.write(chunk);
      if (n < chunk.length) out = chunk.subarray(Math.max(0, n));
    };
    const enqueue = (frame: Uint8Array, now: boolean) => {
      queue.push(frame);
      if (now) write();
      else if (!flushing) {
        flushing = true;
        setImmediate(write);
      }
    };
    const sendClose = (code: number, reason: string) => {
      if (closeSent) return;
      closeSent = true;
      enqueue(clientFrame(0x8, closePayload(code, reason)), true);
    };
    const violate = (code: number, reason: string) => {
      sendClose(code, reason);
      finish(code, reason);
    };

    /** Handle one complete frame; false stops reading. */
    const onFrame = (fin: boolean, op: number, payload: Uint8Array): boolean => {
      if (op === 0x8) {
        const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
        const reason = payload.length > 2 ? Buffer.from(payload.subarray(2)).toString("utf8") : "";
        sendClose(code === 1005 ? 1000 : code, "");
        finish(code, reason);
        return false;
      }
      if (op === 0x9) return enqueue(clientFrame(0xa, payload), true), true;
      if (op === 0xa) return true;
      if (op === 0x1) return events.text(), true;
      if (op === 0x2 || op === 0x0) {
        if ((op === 0x2) === frags.length > 0) return violate(1002, "unexpected continuation frame"), false;
        if (fin && frags.length === 0) return events.message(payload), !done;
        frags.push(payload.slice());
        const size = frags.reduce((s, f) => s + f.length, 0);
        if (size > MAX_MESSAGE) return violate(1009, "message too big"), false;
        if (fin) {
          const whole = Buffer.concat(frags);
          frags = [];
          events.message(whole);
        }
        return !done;
      }
      violate(1002, `unknown opcode ${op}`);
      return false;
    };

    /** Read as many whole frames from `inbuf` as there are. */
    const readFrames = () => {
      let at = 0;
      const b = inbuf;
      while (!done) {
        if (b.length - at < 2) break;
        const b0 = b[at]!;
        const b1 = b[at + 1]!;
        if (b0 & 0x70) return violate(1002, "reserved bits set");
        if (b1 & 0x80) return violate(1002, "a masked frame from the server");
        let len = b1 & 0x7f;
        let hl = 2;
        if (len === 126) {
          if (b.length - at < 4) break;
          len = (b[at + 2]! << 8) | b[at + 3]!;
          hl = 4;
        } else if (len === 127) {
          if (b.length - at < 10) break;
          const big = new DataView(b.buffer, b.byteOffset + at + 2, 8).getBigUint64(0);
          if (big > BigInt(MAX_MESSAGE)) return violate(1009, "message too big");
          len = Number(big);
          hl = 10;
        }
        if (len > MAX_MESSAGE) return violate(1009, "message too big");
        if (b.length - at < hl + len) break;
        const ok = onFrame((b0 & 0x80) !== 0, b0 & 0x0f, b.subarray(at + hl, at + hl + len));
        at += hl + len;
        if (!ok) return;
      }
      // A partial frame is copied: it must not depend on the chunk staying untouched.
      inbuf = at === b.length ? new Uint8Array(0) : b.slice(at);
    };

    const onHandshake = () => {
      const end = Buffer.from(inbuf.buffer, inbuf.byteOffset, inbuf.byteLength).indexOf("\r\n\r\n");
      if (end < 0) {
        if (inbuf.length > 16384) finish(1002, "the upgrade answer is too long");
        return;
      }
      const head = Buffer.from(inbuf.buffer, inbuf.byteOffset, end).toString("latin1");
      inbuf = inbuf.subarray(end + 4);
      const lines = head.split("\r\n");
      const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)?.[1];
      if (status !== "101") {
        refused = Number(status ?? 0);
        return finish(1002, `the upgrade was answered HTTP ${status ?? "?"}`);
      }
      const h: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        if (i > 0) h[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      if (h.upgrade?.toLowerCase() !== "websocket" || h.connection?.toLowerCase() !== "upgrade" || h["sec-websocket-accept"] !== wsAccept(key)) {
        return finish(1002, "the upgrade answer is not a valid WebSocket handshake");
      }
      if (h["sec-websocket-extensions"] || h["sec-websocket-protocol"]) return finish(1002, "the server chose an extension or subprotocol nobody asked for");
      open = true;
      resolve({
        send: (bytes, now) => !closeSent && enqueue(clientFrame(0x2, bytes), now),
        close: (code = 1000, reason = "") => {
          sendClose(code, reason);
          // Wait briefly for the server's close frame, then hang up.
          setTimeout(() => finish(code, reason), 1000).unref?.();
        },
        ref: () => sock?.ref(),
        unref: () => sock?.unref(),
        get writes() {
          return writes;
        },
      });
      if (inbuf.length) readFrames();
    };

    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          sock = s;
          s.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
        },
        data(_s, chunk) {
          if (done) return;
          inbuf = inbuf.length === 0 ? chunk : Buffer.concat([inbuf, chunk]);
          if (open) readFrames();
          else onHandshake();
        },
        drain(s) {
          if (!out) return;
          const n = s.write(out);
          out = n < out.length ? out.subarray(Math.max(0, n)) : undefined;
        },
        close() {
          finish(1006, open ? "" : "connection closed");
        },
        error(_s, e) {
          finish(1006, (e as { code?: string }).code ?? e.message);
        },
      },
    }).catch((e: { code?: string; message?: string }) => finish(1006, e?.code ?? e?.message ?? String(e)));
  });
}
