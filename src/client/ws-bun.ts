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
 *
 * In stages, one job each: the opening handshake (`upgradeRequest`,
 * `checkUpgrade`), write batching (`Writer`), the frame reader
 * (ws-frame.ts `FrameReader`, with the frame writer `clientFrame`), and
 * `Connection` / `connectBunWs`, which wire them to the socket.
 * @module
 */
import type { Socket } from "bun";
import { randomBytes, wsAccept } from "../crypto/index.ts";
import { clientFrame, closePayload, FrameReader, type FrameSink } from "./ws-frame.ts";

export { MAX_MESSAGE, clientFrame } from "./ws-frame.ts";

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

/** The upgrade request (RFC 6455 §4.1) for `target` with `Sec-WebSocket-Key` `key`. */
function upgradeRequest(target: string, key: string): string {
  return `GET ${target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/**
 * Check the server's answer to the upgrade (RFC 6455 §4.1, the client's
 * checks): 101, `Upgrade: websocket`, `Connection: Upgrade`, the
 * `Sec-WebSocket-Accept` for our key, no extension or subprotocol. An
 * OpenError when it fails (with the status of an answer that was not 101).
 */
function checkUpgrade(head: string, key: string): OpenError | null {
  const lines = head.split("\r\n");
  const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)?.[1];
  if (status !== "101") return new OpenError(`the upgrade was answered HTTP ${status ?? "?"}`, Number(status ?? 0));
  const h: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    if (i > 0) h[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  if (h.upgrade?.toLowerCase() !== "websocket" || h.connection?.toLowerCase() !== "upgrade" || h["sec-websocket-accept"] !== wsAccept(key)) {
    return new OpenError("the upgrade answer is not a valid WebSocket handshake");
  }
  if (h["sec-websocket-extensions"] || h["sec-websocket-protocol"]) return new OpenError("the server chose an extension or subprotocol nobody asked for");
  return null;
}

/**
 * Write batching: frames queued with `now` false go out together at the
 * end of the event-loop turn (one write system call); `now` writes the
 * queue at once. Bytes the socket did not take wait for its drain.
 */
class Writer {
  sock: Socket<undefined> | undefined;
  writes = 0;
  private queue: Uint8Array[] = [];
  /** Bytes the socket did not take yet. */
  private out: Uint8Array | undefined;
  private flushing = false;
  private readonly flush = () => this.write();

  enqueue(frame: Uint8Array, now: boolean): void {
    this.queue.push(frame);
    if (now) this.write();
    else if (!this.flushing) {
      this.flushing = true;
      setImmediate(this.flush);
    }
  }

  private write(): void {
    this.flushing = false;
    const sock = this.sock;
    if (!sock || this.queue.length === 0) return;
    const chunk = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue);
    this.queue = [];
    if (this.out) {
      this.out = Buffer.concat([this.out, chunk]);
      return;
    }
    this.writes++;
    const n = sock.write(chunk);
    if (n < chunk.length) this.out = chunk.subarray(Math.max(0, n));
  }

  /** The socket can take more: write what it did not take before. */
  drain(): void {
    if (!this.out || !this.sock) return;
    const n = this.sock.write(this.out);
    this.out = n < this.out.length ? this.out.subarray(Math.max(0, n)) : undefined;
  }
}

/** One connection's life: the handshake, then frames both ways, then the close (FrameSink for its reader). */
class Connection implements FrameSink {
  done = false;
  /** The handshake succeeded. */
  opened = false;
  private closeSent = false;
  readonly writer = new Writer();
  private readonly reader = new FrameReader(this);

  constructor(
    private readonly key: string,
    private readonly events: BunWsEvents,
    private readonly resolve: (ws: BunWs) => void,
    private readonly reject: (e: OpenError) => void,
  ) {}

  message(bytes: Uint8Array): void {
    this.events.message(bytes);
  }

  text(): void {
    this.events.text();
  }

  ping(payload: Uint8Array): void {
    this.writer.enqueue(clientFrame(0xa, payload), true);
  }

  closed(code: number, reason: string): void {
    this.sendClose(code === 1005 ? 1000 : code, "");
    this.finish(code, reason);
  }

  violation(code: number, reason: string): void {
    this.sendClose(code, reason);
    this.finish(code, reason);
  }

  sendClose(code: number, reason: string): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.writer.enqueue(clientFrame(0x8, closePayload(code, reason)), true);
  }

  /** The end, once: a rejection while opening (`opening`, else an OpenError from `reason`), else the close event. */
  finish(code: number, reason: string, opening?: OpenError): void {
    if (this.done) return;
    this.done = true;
    if (!this.opened) this.reject(opening ?? new OpenError(reason || `closed (${code})`));
    else this.events.close(code, reason);
    this.writer.sock?.end();
  }

  /** Bytes from the socket: the handshake's answer until it is complete, then frames. */
  data(chunk: Uint8Array): void {
    if (this.done) return;
    this.reader.push(chunk);
    if (this.opened) this.reader.read();
    else this.handshake();
  }

  /** Wait for the whole answer head, check it, then open and read any frames that came with it. */
  private handshake(): void {
    const b = this.reader.buffered;
    const end = Buffer.from(b.buffer, b.byteOffset, b.byteLength).indexOf("\r\n\r\n");
    if (end < 0) {
      if (b.length > 16384) this.finish(1002, "the upgrade answer is too long");
      return;
    }
    const refused = checkUpgrade(Buffer.from(b.buffer, b.byteOffset, end).toString("latin1"), this.key);
    if (refused) return this.finish(1002, refused.message, refused);
    this.reader.consume(end + 4);
    this.opened = true;
    this.resolve(this.api());
    if (this.reader.buffered.length) this.reader.read();
  }

  private api(): BunWs {
    const writer = this.writer;
    return {
      send: (bytes, now) => void (!this.closeSent && writer.enqueue(clientFrame(0x2, bytes), now)),
      close: (code = 1000, reason = "") => {
        this.sendClose(code, reason);
        // Wait briefly for the server's close frame, then hang up.
        setTimeout(() => this.finish(code, reason), 1000).unref?.();
      },
      ref: () => writer.sock?.ref(),
      unref: () => writer.sock?.unref(),
      get writes() {
        return writer.writes;
      },
    };
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
    const c = new Connection(key, events, resolve, reject);
    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          c.writer.sock = s;
          s.write(upgradeRequest(target, key));
        },
        data: (_s, chunk) => c.data(chunk),
        drain: () => c.writer.drain(),
        close: () => c.finish(1006, c.opened ? "" : "connection closed"),
        error: (_s, e) => c.finish(1006, (e as { code?: string }).code ?? e.message),
      },
    }).catch((e: { code?: string; message?: string }) => c.finish(1006, e?.code ?? e?.message ?? String(e)));
  });
}
