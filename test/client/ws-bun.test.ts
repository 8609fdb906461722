/**
 * src/client/ws-bun.ts, the SDK's own RFC 6455 client in Bun, against a
 * scripted server (Bun.listen on a unix socket, the server side written here
 * by hand): the handshake and its Accept check, masked frames out, frames
 * sent while others are in flight written together, fragmented messages,
 * ping → pong, text frames, close codes, and protocol violations by the
 * server (1002, 1009). The real daemon is covered by test/client/ws.test.ts
 * and the corpus.
 */
import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connectBunWs, type BunWs } from "../../src/client/ws-bun.ts";
import { tempDir } from "../_tmp.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const dirs: string[] = [];
const servers: { stop(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A server frame (unmasked unless `mask`). */
function frame(op: number, payload: Uint8Array | string, fin = true, mask = false): Buffer {
  const p = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
  const len = p.length < 126 ? Buffer.from([p.length | (mask ? 0x80 : 0)]) : Buffer.from([126 | (mask ? 0x80 : 0), p.length >> 8, p.length & 255]);
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | op]), len, mask ? Buffer.alloc(4) : Buffer.alloc(0), p]);
}

/** Parse client frames (must be masked); returns [op, payload][] and the rest. */
function readClientFrames(buf: Buffer): { frames: [number, Buffer][]; rest: Buffer } {
  const frames: [number, Buffer][] = [];
  let at = 0;
  while (buf.length - at >= 6) {
    if (!(buf[at + 1]! & 0x80)) throw new Error("unmasked client frame");
    let len = buf[at + 1]! & 0x7f;
    let hl = 2;
    if (len === 126) (len = buf.readUInt16BE(at + 2)), (hl = 4);
    if (buf.length - at < hl + 4 + len) break;
    const mask = buf.subarray(at + hl, at + hl + 4);
    const p = Buffer.from(buf.subarray(at + hl + 4, at + hl + 4 + len).map((b, i) => b ^ mask[i % 4]!));
    frames.push([buf[at]! & 0x0f, p]);
    at += hl + 4 + len;
  }
  return { frames, rest: buf.subarray(at) };
}

interface Script {
  /** Override the handshake answer (given the client's key). */
  answer?(key: string): string;
  /** Called per batch of client frames read in one data event. */
  onFrames?(frames: [number, Buffer][], send: (b: Buffer) => void): void;
}

function serve(script: Script): string {
  const dir = tempDir("hush-wsbun-");
  dirs.push(dir);
  const path = join(dir, "s.sock");
  let buf: Buffer = Buffer.alloc(0);
  let upgraded = false;
  servers.push(
    Bun.listen({
      unix: path,
      socket: {
        data(s, chunk) {
          buf = Buffer.concat([buf, chunk]);
          if (!upgraded) {
            const end = buf.indexOf("\r\n\r\n");
            if (end < 0) return;
            const key = /sec-websocket-key: *(\S+)/i.exec(buf.subarray(0, end).toString())![1]!;
            buf = buf.subarray(end + 4);
            upgraded = true;
            const accept = createHash("sha1").update(key + GUID).digest("base64");
            s.write(script.answer?.(key) ?? `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
          }
          const { frames, rest } = readClientFrames(buf);
          buf = rest;
          if (frames.length) script.onFrames?.(frames, (b) => s.write(b));
        },
      },
    }),
  );
  return path;
}

function events() {
  const got: { messages: string[]; texts: number; closed: [number, string] | undefined } = { messages: [], texts: 0, closed: undefined };
  let onClose = () => {};
  const closed = new Promise<void>((r) => (onClose = r));
  return {
    got,
    closed,
    ev: { message: (b: Uint8Array) => got.messages.push(Buffer.from(b).toString()), text: () => got.texts++, close: (c: number, r: string) => ((got.closed = [c, r]), onClose()) },
  };
}

test("echo: masked binary frames out, frames sent in one turn arrive in fewer writes, fragments joined, ping answered", async () => {
  const batches: number[] = [];
  let pongs = 0;
  const path = serve({
    onFrames(frames, send) {
      batches.push(frames.length);
      for (const [op, p] of frames) {
        if (op === 0xa) pongs++;
        else if (op === 0x2 && p.toString() === "frag") send(Buffer.concat([frame(0x9, "hi"), frame(0x2, "fr", false), frame(0x0, "a", false), frame(0x0, "g")]));
        else if (op === 0x2) send(frame(0x2, p));
      }
    },
  });
  const { got, ev } = events();
  const ws: BunWs = await connectBunWs(path, "/v1/ws", ev);
  ws.send(Buffer.from("first"), true);
  for (let i = 0; i < 20; i++) ws.send(Buffer.from(`m${i}`), false);
  ws.send(Buffer.from("x".repeat(300)), false); // 16-bit length
  await Bun.sleep(100);
  expect(got.messages.length).toBe(22);
  expect(got.messages.slice(0, 3)).toEqual(["first", "m0", "m1"]);
  expect(got.messages[21]).toBe("x".repeat(300));
  // The first frame went out at once, the 21 queued in the same turn with one more write.
  expect(ws.writes).toBe(2);
  expect(batches.length).toBeLessThanOrEqual(2);
  ws.send(Buffer.from("frag"), true);
  await Bun.sleep(100);
  expect(got.messages.at(-1)).toBe("frag");
  expect(pongs).toBe(1);
  ws.close();
});

test("the server's close frame: its code and reason reach close(); a text frame is reported", async () => {
  const path = serve({ onFrames: (_f, send) => send(Buffer.concat([frame(0x1, "t"), frame(0x8, Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from("idle")]))])) });
  const { got, ev, closed } = events();
  const ws = await connectBunWs(path, "/v1/ws", ev);
  ws.send(Buffer.from("a"), true);
  await closed;
  expect(got.texts).toBe(1);
  expect(got.closed).toEqual([4000, "idle"]);
});

test("protocol violations by the server close with 1002 / 1009", async () => {
  for (const [bad, code] of [
    [frame(0x2, "m", true, true), 1002], // masked server frame
    [Buffer.from([0xc2, 0x01, 0x41]), 1002], // RSV1 without an extension
    [frame(0x0, "c"), 1002], // continuation without a start
    [frame(0x3, "x"), 1002], // reserved opcode
    [Buffer.concat([Buffer.from([0x82, 127]), Buffer.from([0, 0, 0, 1, 0, 0, 0, 0])]), 1009], // 4 GiB message
  ] as [Buffer, number][]) {
    const path = serve({ onFrames: (_f, send) => send(bad) });
    const { got, ev, closed } = events();
    const ws = await connectBunWs(path, "/v1/ws", ev);
    ws.send(Buffer.from("a"), true);
    await closed;
    expect(got.closed![0]).toBe(code);
  }
});

test("a bad upgrade answer is refused before anything but the upgrade request is sent", async () => {
  for (const answer of [
    () => "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
    () => "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
    (key: string) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${createHash("sha1").update(key + GUID).digest("base64")}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
  ]) {
    const path = serve({ answer });
    const { ev } = events();
    await expect(connectBunWs(path, "/v1/ws", ev)).rejects.toThrow();
  }
  const { ev } = events();
  await expect(connectBunWs("/nonexistent/hush.sock", "/v1/ws", ev)).rejects.toThrow();
});
