/**
 * The message format of hush's WebSocket transport (PROTOCOL.md §3.6): one
 * binary WebSocket message carries one request, or one answer, in a small
 * HTTP-like form.
 *
 *   request  = id SP method SP target LF *( name ": " value LF ) LF body
 *   answer   = id SP status LF *( name ": " value LF ) LF body
 *
 * The head (everything up to and including the empty line) is printable
 * ASCII (0x20–0x7E) and LF only, at most `MAX_HEAD` bytes; names are lower
 * case. The body is the raw bytes that follow, possibly none. A request
 * carries the very fields an HTTP request carries (the `authorization` line
 * signs method, target and body exactly as §3 says); an answer carries the
 * status, the answer headers (`hush-signature`, …) and the body.
 *
 * Pure and synchronous: used by the daemon (src/server/ws.ts) and the SDK
 * (src/client/transport-ws.ts), in Bun and in Node ≥ 20.
 * @module
 */

/** The longest head, in bytes (the empty line included). */
export const MAX_HEAD = 8192;

/** A message id: 1–64 characters of `A–Z a–z 0–9 . _ : -`, chosen by the client, echoed in the answer. */
export const ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const NAME_RE = /^[a-z0-9-]{1,64}$/;
const VALUE_RE = /^[\x20-\x7e]*$/;
const STATUS_RE = /^[1-5][0-9][0-9]$/;

export type Headers = Record<string, string>;

export interface RequestFrame {
  id: string;
  method: string;
  /** Path and query, as signed (§3). Only its syntax is checked here. */
  target: string;
  /** The header lines, by lower-case name (null prototype). */
  headers: Headers;
  /** The bytes after the head (a view into the message). */
  body: Uint8Array;
}

export interface AnswerFrame {
  id: string;
  status: number;
  headers: Headers;
  /** The bytes after the head, decoded as UTF-8 (the JSON answer body). */
  body: string;
  /** The same bytes, undecoded (a view into the message: read it before the message's buffer is reused). */
  bytes: Uint8Array;
}

/** A decoded frame, or why not; `id` is the frame's id when its first line gave one. */
export type Decoded<T> = { ok: true; frame: T } | { ok: false; id: string | null; error: string };

const te = new TextEncoder();

function headText(first: string, headers: Headers, check: boolean): string {
  let head = first + "\n";
  for (const name in headers) {
    const value = headers[name]!;
    if (check && (!NAME_RE.test(name) || !VALUE_RE.test(value))) throw new TypeError(`frame header ${JSON.stringify(name)}: not a lower-case name with a printable ASCII value`);
    head += `${name}: ${value}\n`;
  }
  return head + "\n";
}

function join(head: string, body: string | Uint8Array | undefined): Uint8Array {
  if (body === undefined || body.length === 0) return te.encode(head);
  if (typeof body === "string") return te.encode(head + body);
  const h = te.encode(head);
  const out = new Uint8Array(h.length + body.length);
  out.set(h, 0);
  out.set(body, h.length);
  return out;
}

/**
 * A request message. Throws TypeError for an id, method, target or header
 * the format cannot carry (a caller's bug, never the daemon's input).
 */
export function encodeRequest(id: string, method: string, target: string, headers: Headers, body?: string | Uint8Array): Uint8Array {
  if (!isId(id) || !isMethod(method) || target[0] !== "/" || !/^[\x21-\x7e]*$/.test(target)) {
    throw new TypeError("frame: bad id, method or target");
  }
  return join(headText(`${id} ${method} ${target}`, headers, true), body);
}

/**
 * An answer message. `id` must come from a decoded request and `headers`
 * from the daemon's own answer (lower-case names, printable ASCII values):
 * they are not checked again here.
 */
export function encodeAnswer(id: string, status: number, headers: Headers, body: string): Uint8Array {
  return join(headText(`${id} ${status}`, headers, false), body);
}

const LFLF = Buffer.from("\n\n");
/** The body of a message that has none (shared; never written to). */
const NO_BODY = new Uint8Array(0);
const ASCII_RE = /^[\x20-\x7e\n]*$/;

/** A Buffer view of `buf` (no copy), for Buffer's native search and latin1 decoding. */
function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * The head without its final empty line, and where the body starts; or an
 * error: no empty line within MAX_HEAD bytes, or a byte outside printable
 * ASCII and LF.
 */
function splitHead(b: Buffer): { text: string; bodyAt: number } | string {
  const at = b.indexOf(LFLF);
  if (at < 0 || at + 2 > MAX_HEAD) return `no empty line ends the head within ${MAX_HEAD} bytes`;
  const text = b.toString("latin1", 0, at);
  if (!ASCII_RE.test(text)) return "the head has a byte that is not printable ASCII or LF";
  return { text, bodyAt: at + 2 };
}

function isId(s: string): boolean {
  const n = s.length;
  if (n < 1 || n > 64) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    // A-Z a-z 0-9 . _ : -
    if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 58) || c === 46 || c === 95 || c === 45)) return false;
  }
  return true;
}

function isMethod(s: string): boolean {
  const n = s.length;
  if (n < 1 || n > 16) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 65 || c > 90) return false;
  }
  return true;
}

/** The first line's id, if it starts with one (so an error answer can name the request). */
function leadingId(b: Buffer): string | null {
  const sp = b.indexOf(0x20);
  if (sp < 1 || sp > 64) return null;
  const id = b.toString("latin1", 0, sp);
  return isId(id) ? id : null;
}

/** `s[from, to)` is 1–64 characters of `a–z 0–9 -` (a header name). */
function isName(s: string, from: number, to: number): boolean {
  if (to - from < 1 || to - from > 64) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45)) return false;
  }
  return true;
}

/** Split a head into its first line and header lines (lower-case names, each at most once). One pass with indexOf, no regular expression. */
function parseHead(text: string): { first: string; headers: Headers } | string {
  const headers: Headers = Object.create(null);
  let nl = text.indexOf("\n");
  const first = nl < 0 ? text : text.slice(0, nl);
  for (let i = 1; nl >= 0; i++) {
    const start = nl + 1;
    nl = text.indexOf("\n", start);
    const end = nl < 0 ? text.length : nl;
    const colon = text.indexOf(": ", start);
    if (colon < 0 || colon >= end || !isName(text, start, colon)) return `header line ${i} is not "name: value" with a lower-case name`;
    const name = text.slice(start, colon);
    // Values are strings, so undefined means absent (and is cheaper than `in` on a null-prototype object).
    if (headers[name] !== undefined) return `header ${name} appears twice`;
    headers[name] = text.slice(colon + 2, end);
  }
  return { first, headers };
}

interface Head {
  b: Buffer;
  bodyAt: number;
  /** The first line's id (checked), and the rest of that line after its first space ("" without one). */
  id: string;
  rest: string;
  headers: Headers;
}

/** Read the head shared by requests and answers, up to the first line's id. */
function readHead(buf: Uint8Array): Head | { ok: false; id: string | null; error: string } {
  const b = asBuffer(buf);
  const h = splitHead(b);
  const head = typeof h === "string" ? h : parseHead(h.text);
  if (typeof h === "string" || typeof head === "string") return { ok: false, id: leadingId(b), error: typeof h === "string" ? h : (head as string) };
  const first = head.first;
  const sp = first.indexOf(" ");
  const id = sp < 0 ? first : first.slice(0, sp);
  if (!isId(id)) return { ok: false, id: null, error: "the first line does not start with a message id" };
  return { b, bodyAt: h.bodyAt, id, rest: sp < 0 ? "" : first.slice(sp + 1), headers: head.headers };
}

/** Decode a request message (never throws). */
export function decodeRequest(buf: Uint8Array): Decoded<RequestFrame> {
  const h = readHead(buf);
  if ("ok" in h) return h;
  const { id, rest } = h;
  const sp = rest.indexOf(" ");
  if (sp < 0 || rest.indexOf(" ", sp + 1) >= 0) return { ok: false, id, error: "the first line is not: id method target" };
  const method = rest.slice(0, sp);
  const target = rest.slice(sp + 1);
  if (!isMethod(method)) return { ok: false, id, error: "the method is not 1-16 upper-case letters" };
  if (target[0] !== "/") return { ok: false, id, error: "the target does not start with /" };
  // No view for an empty body (GET, DELETE): a view of a fresh message makes the engine copy it to a buffer of its own.
  return { ok: true, frame: { id, method, target, headers: h.headers, body: h.bodyAt === buf.length ? NO_BODY : buf.subarray(h.bodyAt) } };
}

/** Decode an answer message (never throws). */
export function decodeAnswer(buf: Uint8Array): Decoded<AnswerFrame> {
  const h = readHead(buf);
  if ("ok" in h) return h;
  if (!STATUS_RE.test(h.rest)) return { ok: false, id: h.id, error: "the first line is not: id status" };
  return { ok: true, frame: { id: h.id, status: Number(h.rest), headers: h.headers, body: h.b.toString("utf8", h.bodyAt), bytes: buf.subarray(h.bodyAt) } };
}
