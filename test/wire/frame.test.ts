/**
 * The WebSocket message format (src/wire/frame.ts, PROTOCOL.md §4 "The
 * WebSocket transport" and §10.5):
 *
 * - the worked example of §10.5, read from docs/PROTOCOL.md, is what the
 *   encoder makes, and the decoder reads its answer;
 * - malformed messages are refused with a reason (and their id when the
 *   first line has one); encode/decode round-trips (property test);
 * - a client written from the document alone (node:net, the RFC 6455
 *   handshake and framing by hand, node:crypto for the signatures, no hush
 *   code) drives a live compiled daemon.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import fc from "fast-check";
import { decodeAnswer, decodeRequest, encodeAnswer, encodeRequest } from "../../src/wire/frame.ts";
import { startDaemon, type Daemon } from "../e2e/_harness.ts";

const doc = readFileSync(resolve(import.meta.dir, "../../docs/PROTOCOL.md"), "utf8");
const section = doc.slice(doc.indexOf("### 10.5 A request over WebSocket"), doc.indexOf("## 11."));
const blocks = [...section.matchAll(/```\n([\s\S]*?)```/g)].map((m) => m[1]!);
/** A code block written with `\n` markers at line ends → its bytes. */
const fromMarked = (block: string) => Buffer.from(block.split("\n").filter((l, i, a) => i < a.length - 1 || l !== "").map((l) => l.replace(/\\n$/, "\n")).join(""));

describe("PROTOCOL.md §10.5", () => {
  const auth = "HUSH1-HMAC-SHA256 Credential=w_AAAAAAAAAAAAAAAA, Timestamp=1767225600000, Nonce=AAECAwQFBgcICQoLDA0ODw, Signature=pXWONKznEehAYURDB3CmG3S26Yy1U4SjUXPCpLO2cCA";

  test("the request message is what the encoder makes, byte for byte", () => {
    const want = fromMarked(blocks[0]!);
    expect(want.length).toBe(261);
    const got = encodeRequest("1", "PUT", "/v1/kv/build%2Fid", { authorization: auth, "content-type": "application/json" }, '{"value":"hello","ttl_ms":60000}');
    expect(Buffer.from(got).equals(want)).toBe(true);
    const d = decodeRequest(want);
    expect(d.ok && { ...d.frame, body: Buffer.from(d.frame.body).toString() }).toEqual({
      id: "1",
      method: "PUT",
      target: "/v1/kv/build%2Fid",
      headers: Object.assign(Object.create(null), { authorization: auth, "content-type": "application/json" }),
      body: '{"value":"hello","ttl_ms":60000}',
    });
  });

  test("the answer's text and hex agree, decode, and carry §10.1's response signature", () => {
    const text = fromMarked(blocks[1]!);
    const hex = Buffer.from(blocks[2]!.replace(/\s/g, ""), "hex");
    expect(text.length).toBe(153);
    expect(hex.equals(text)).toBe(true);
    expect(Buffer.from(encodeAnswer("1", 200, { "x-request-id": "l5qGowUb-2b", "hush-signature": "Mv6ZnFQTgj7Li23OoCmGQAlUwpAmIJFsI_NXTk6Xak8", "hush-rekey-after": "1767268800000" }, '{"expires_at":1767225660000}')).equals(hex)).toBe(true);
    const d = decodeAnswer(hex);
    if (!d.ok) throw new Error(d.error);
    expect(d.frame.status).toBe(200);
    const key = Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex");
    const bodyHash = createHash("sha256").update(d.frame.body).digest("hex");
    const mac = createHmac("sha256", key).update(`HUSH1-RESPONSE\npXWONKznEehAYURDB3CmG3S26Yy1U4SjUXPCpLO2cCA\n200\n${bodyHash}`).digest("base64url");
    expect(d.frame.headers["hush-signature"]).toBe(mac);
  });
});

describe("malformed messages", () => {
  const b = (s: string) => Buffer.from(s, "latin1");
  const cases: [string, string, string | null, RegExp][] = [
    ["no empty line", "1 GET /v1/whoami\nauthorization: x\n", "1", /no empty line/],
    ["a CR in the head", "1 GET /v1/whoami\r\n\n", "1", /not printable ASCII/],
    ["a non-ASCII byte", "1 GET /v1/k\xe9\n\n", "1", /not printable ASCII/],
    ["a header without the space", "1 GET /v1/whoami\nauthorization:x\n\n", "1", /name: value/],
    ["an upper-case header name", "1 GET /v1/whoami\nAuthorization: x\n\n", "1", /name: value/],
    ["a repeated header", "1 GET /v1/whoami\nauthorization: a\nauthorization: b\n\n", "1", /twice/],
    ["two fields", "1 GET\n\n", "1", /id method target/],
    ["four fields", "1 GET /v1/a /v1/b\n\n", "1", /id method target/],
    ["a lower-case method", "1 get /v1/whoami\n\n", "1", /method/],
    ["a relative target", "1 GET v1/whoami\n\n", "1", /start with \//],
    ["no id", " GET /v1/whoami\n\n", null, /message id/],
    ["a bad id", "a/b GET /v1/whoami\n\n", null, /message id/],
    ["a 65-character id", `${"i".repeat(65)} GET /v1/whoami\n\n`, null, /message id/],
    ["empty", "", null, /no empty line/],
    ["a head over 8 KiB", `1 GET /v1/whoami\nx-pad: ${"a".repeat(9000)}\n\n`, "1", /8192/],
  ];
  test.each(cases)("%s", (_name, raw, id, why) => {
    const d = decodeRequest(b(raw));
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.id).toBe(id);
    expect(d.error).toMatch(why);
  });

  test("the encoder refuses what the format cannot carry", () => {
    expect(() => encodeRequest("1", "GET", "/v1/x", { authorization: "a\nb" })).toThrow(TypeError);
    expect(() => encodeRequest("1", "GET", "/v1/a b", {})).toThrow(TypeError);
    expect(() => encodeRequest("", "GET", "/v1/x", {})).toThrow(TypeError);
    expect(() => encodeRequest("1", "GET", "/v1/x", { "X-Up": "a" })).toThrow(TypeError);
  });

  test("encode then decode gives the request back (property)", () => {
    const idChar = fc.constantFrom(..."AZaz09._:-".split(""), "b", "Q");
    fc.assert(
      fc.property(
        fc.string({ unit: idChar, minLength: 1, maxLength: 64 }),
        fc.constantFrom("GET", "PUT", "POST", "DELETE"),
        fc.string({ unit: fc.constantFrom(..."abc%2F/?=&-_.~".split("")), maxLength: 40 }),
        fc.dictionary(fc.stringMatching(/^[a-z0-9-]{1,20}$/), fc.stringMatching(/^[\x20-\x7e]{0,60}$/), { maxKeys: 4 }),
        fc.uint8Array({ maxLength: 300 }),
        (id, method, path, headers, body) => {
          const d = decodeRequest(encodeRequest(id, method, "/" + path, headers, body));
          if (!d.ok) return false;
          return d.frame.id === id && d.frame.method === method && d.frame.target === "/" + path && JSON.stringify({ ...d.frame.headers }) === JSON.stringify(headers) && Buffer.from(d.frame.body).equals(Buffer.from(body));
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ---- a client written from PROTOCOL.md alone -------------------------------------------------

/** RFC 6455 over a raw socket: the opening handshake, masked binary frames out, frames in. */
class TinyWs {
  private buf = Buffer.alloc(0);
  private waiting: ((m: { op: number; data: Buffer }) => void)[] = [];
  private queue: { op: number; data: Buffer }[] = [];
  constructor(private readonly s: Socket) {}

  static async open(path: string): Promise<TinyWs> {
    const s = connect({ path });
    await new Promise<void>((r, j) => (s.once("connect", () => r()), s.once("error", j)));
    const key = randomBytes(16).toString("base64");
    s.write(`GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const head = await new Promise<Buffer>((r) => {
      let acc = Buffer.alloc(0);
      const on = (c: Buffer) => {
        acc = Buffer.concat([acc, c]);
        const i = acc.indexOf("\r\n\r\n");
        if (i < 0) return;
        s.off("data", on);
        const t = new TinyWs(s);
        t.buf = acc.subarray(i + 4);
        r(Object.assign(acc.subarray(0, i), { ws: t }));
      };
      s.on("data", on);
    });
    const text = head.toString("latin1");
    expect(text).toStartWith("HTTP/1.1 101");
    const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
    expect(text.toLowerCase()).toContain(`sec-websocket-accept: ${accept.toLowerCase()}`);
    const ws = (head as any).ws as TinyWs;
    s.on("data", (c: Buffer) => ws.feed(c));
    ws.feed(Buffer.alloc(0));
    return ws;
  }

  send(payload: Buffer, op = 2): void {
    const mask = randomBytes(4);
    const n = payload.length;
    const len = n < 126 ? Buffer.from([0x80 | n]) : n < 65536 ? Buffer.from([0x80 | 126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([0x80 | 127]), Buffer.from(new BigUint64Array([BigInt(n)]).buffer).reverse()]);
    const masked = Buffer.from(payload.map((x, i) => x ^ mask[i % 4]!));
    this.s.write(Buffer.concat([Buffer.from([0x80 | op]), len, mask, masked]));
  }

  next(): Promise<{ op: number; data: Buffer }> {
    const m = this.queue.shift();
    return m ? Promise.resolve(m) : new Promise((r) => this.waiting.push(r));
  }

  private feed(c: Buffer): void {
    this.buf = Buffer.concat([this.buf, c]);
    for (;;) {
      if (this.buf.length < 2) return;
      const op = this.buf[0]! & 15;
      let n = this.buf[1]! & 127;
      let at = 2;
      if (n === 126) (n = this.buf.readUInt16BE(2)), (at = 4);
      else if (n === 127) (n = Number(this.buf.readBigUInt64BE(2))), (at = 10);
      if (this.buf.length < at + n) return;
      const m = { op, data: this.buf.subarray(at, at + n) };
      this.buf = this.buf.subarray(at + n);
      const w = this.waiting.shift();
      if (w) w(m);
      else this.queue.push(m);
    }
  }

  end(): void {
    this.s.destroy();
  }
}

describe("an independent client (written from PROTOCOL.md)", () => {
  let d: Daemon;
  let keyId: string;
  let macKey: Buffer;
  beforeAll(async () => {
    d = await startDaemon();
    const cred = await d.issue("tiny");
    // §2: bech32 payload = key id (18) ‖ MAC key (32) ‖ …; decoded with @scure/base as the document says.
    const { bech32 } = await import("@scure/base");
    const raw = Buffer.from(bech32.fromWords(bech32.decode(cred.toLowerCase() as `${string}1${string}`, false).words));
    keyId = raw.subarray(0, 18).toString("latin1");
    macKey = raw.subarray(18, 50);
  });
  afterAll(() => d.cleanup());

  const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
  function message(id: string, method: string, target: string, body = ""): { bytes: Buffer; signature: string } {
    const ts = Date.now();
    const nonce = randomBytes(16).toString("base64url");
    const signature = createHmac("sha256", macKey).update(`HUSH1-HMAC-SHA256\n${method}\n${target}\n${ts}\n${nonce}\n${sha(body)}`).digest("base64url");
    const auth = `HUSH1-HMAC-SHA256 Credential=${keyId}, Timestamp=${ts}, Nonce=${nonce}, Signature=${signature}`;
    return { bytes: Buffer.from(`${id} ${method} ${target}\nauthorization: ${auth}\n\n${body}`), signature };
  }
  function parse(data: Buffer) {
    const end = data.indexOf("\n\n");
    const [first, ...lines] = data.subarray(0, end).toString("latin1").split("\n");
    const [id, status] = first!.split(" ");
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]));
    return { id: id!, status: Number(status), headers, body: data.subarray(end + 2).toString("utf8") };
  }
  const answerSig = (reqSig: string, status: number, body: string) => createHmac("sha256", macKey).update(`HUSH1-RESPONSE\n${reqSig}\n${status}\n${sha(body)}`).digest("base64url");

  test("PUT and GET pipelined on one connection, answers verified with the request's signature", async () => {
    const ws = await TinyWs.open(d.socket);
    const put = message("a", "PUT", "/v1/kv/build%2Fid", '{"value":"hello","ttl_ms":60000}');
    const get = message("b", "GET", "/v1/kv/build%2Fid");
    ws.send(put.bytes);
    ws.send(get.bytes);
    const got = [parse((await ws.next()).data), parse((await ws.next()).data)].sort((x, y) => x.id.localeCompare(y.id));
    expect(got.map((a) => [a.id, a.status])).toEqual([["a", 200], ["b", 200]]);
    expect(got[0]!.headers["hush-signature"]).toBe(answerSig(put.signature, 200, got[0]!.body));
    expect(got[1]!.headers["hush-signature"]).toBe(answerSig(get.signature, 200, got[1]!.body));
    expect(JSON.parse(got[1]!.body).value).toBe("hello");
    // Swapped, the answers do not verify: an answer is bound to its request's signature, not to the id.
    expect(got[0]!.headers["hush-signature"]).not.toBe(answerSig(get.signature, 200, got[0]!.body));
    ws.end();
  });

  test("a text message is closed with 1003, a message without an id with 1002", async () => {
    for (const [payload, op, code] of [[Buffer.from("hello"), 1, 1003], [Buffer.from(" GET /v1/whoami\n\n"), 2, 1002]] as const) {
      const ws = await TinyWs.open(d.socket);
      ws.send(payload, op);
      const m = await ws.next();
      expect(m.op).toBe(8);
      expect(m.data.readUInt16BE(0)).toBe(code);
      ws.end();
    }
  });
});
