/**
 * The forms in which a secret can show up in text, for the masker. Follows
 * the GitHub Actions runner's `ValueEncoders` and the Azure Pipelines
 * agent's masker, and closes gaps found against their tests and bug reports:
 *
 * - raw; trimmed of spaces and line breaks; without surrounding quotes;
 * - JSON string escaping (as JSON.stringify, and with non-ASCII as \uXXXX);
 *   `"` escaped as `\"` (command lines); `'` doubled (expressions); XML;
 * - URL encodings: `encodeURIComponent`, RFC 3986 (`!'()*` escaped too),
 *   `application/x-www-form-urlencoded` (space as `+`), each with upper- and
 *   lower-case hex; the Azure agent's `%AZP25`/`%0D`/`%0A` escaping;
 * - hex (both cases); base64 at all three byte alignments (only the
 *   characters made of the secret's bits alone, so a prefix or suffix
 *   encoded with it leaves at most a character at either end), their
 *   base64url twins, the padded base64 and unpadded base64url of the value;
 * - combined encodings, for a secret (or line) of up to
 *   {@link MAX_NESTED} characters: with `"`, `\` or a control character
 *   (so that its JSON string differs from it), every escaping, URL and
 *   binary form of its JSON string too (JSON inside JSON, base64, hex or URL
 *   of a JSON document); `\uXXXX` escapes of `<`, `>`, `&` (Go's HTML-safe
 *   JSON) and of every character;
 * - each line of a multi-line value (split on CR, LF, NEL, LS and PS, then
 *   trimmed, as the runner does), in every form above; past
 *   {@link MAX_LINES_ENCODED} lines, in the text forms only.
 *
 * Base64 and hex wrapped over several lines (the `base64` tool's 76 columns,
 * PEM's 64) are handled by the masker's scan, not by more forms.
 * Forms shorter than {@link MIN_FORM_LEN} characters are dropped: masking
 * them would blank out ordinary words.
 * @module
 */
import { utf8 } from "../crypto/index.ts";

/** Shortest form that is masked (as before: shorter ones are everyday text). */
export const MIN_FORM_LEN = 6;

/** Line separators a multi-line secret is split on (the runner splits on CR and LF). */
const LINE_SPLIT = /[\r\n\u0085\u2028\u2029]+/;

const HEX = "0123456789ABCDEF";
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const pct = (c: string) => "%" + HEX[c.charCodeAt(0) >> 4] + HEX[c.charCodeAt(0) & 15];

/** Lower-case the hex digits of every %XX escape. */
function lowerEscapes(s: string): string {
  return s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
}

function urlForms(s: string, add: (f: string) => void): void {
  // encodeURIComponent throws on a lone surrogate; UTF-8 (and so every encoder) carries U+FFFD instead.
  const component = encodeURIComponent(s.replace(LONE_SURROGATE, "\ufffd")); // keeps A-Z a-z 0-9 - _ . ! ~ * ' ( )
  const rfc3986 = component.replace(/[!'()*]/g, pct); // .NET Uri.EscapeDataString, Python quote
  const form = component.replace(/[!'()~]/g, pct).replace(/%20/g, "+"); // WHATWG x-www-form-urlencoded (URLSearchParams)
  for (const v of [component, rfc3986, form, rfc3986.replace(/%20/g, "+") /* Python quote_plus */]) {
    add(v);
    add(lowerEscapes(v));
  }
  // The Azure Pipelines agent's logging-command escaping, with and without the % step.
  const nl = s.replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  add(nl);
  add(s.replace(/%/g, "%AZP25").replace(/\r/g, "%0D").replace(/\n/g, "%0A"));
}

function escapeForms(s: string, add: (f: string) => void): void {
  const json = JSON.stringify(s).slice(1, -1);
  add(json);
  add(json.replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")));
  add(json.replace(/\//g, "\\/"));
  add(s.replace(/"/g, '\\"'));
  add(s.replace(/'/g, "''"));
  add(s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;"));
}

/** Base64 (Uint8Array.prototype.toBase64 where the runtime has it: Bun does; else Buffer). */
function b64(bytes: Uint8Array): string {
  const u = bytes as Uint8Array & { toBase64?: () => string };
  return u.toBase64 ? u.toBase64() : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

function hex(bytes: Uint8Array): string {
  const u = bytes as Uint8Array & { toHex?: () => string };
  return u.toHex ? u.toHex() : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

const b64url = (s: string) => s.replace(/\+/g, "-").replace(/\//g, "_");

function binaryForms(bytes: Uint8Array, add: (f: string) => void): void {
  const h = hex(bytes);
  add(h);
  add(h.toUpperCase());
  for (let pad = 0; pad < 3; pad++) {
    // The secret after `pad` other bytes: keep only the characters made of
    // the secret's bits alone (the ones at either end also carry neighbours').
    let enc: string;
    if (pad === 0) {
      enc = b64(bytes);
      add(enc); // base64(secret) on its own: masked with its padding
      add(b64url(enc).replace(/=+$/, ""));
    } else {
      const padded = new Uint8Array(pad + bytes.length);
      padded.set(bytes, pad);
      enc = b64(padded);
    }
    const keep = enc.slice(Math.ceil((pad * 8) / 6), Math.floor(((pad + bytes.length) * 8) / 6));
    add(keep);
    add(b64url(keep));
  }
}

/** Characters that every escaping and URL encoder above leaves as they are. */
const PLAIN = /^[A-Za-z0-9._-]*$/;

/**
 * Longest secret (in UTF-16 units) that gets the combined encodings: they
 * double the cost of registering a large value (a 200 KB bundle took
 * 52 → 121 ms), and keys, passwords and tokens are far shorter.
 */
export const MAX_NESTED = 4096;

const uEscape = (c: string) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");

/**
 * Forms of the secret's JSON string text where it differs from the secret
 * (`"`, `\`, controls): the JSON string put into JSON, URLs, hex and base64
 * once more; and `\uXXXX` escapes of `<>&` and of every character.
 */
function nestedForms(s: string, add: (f: string) => void): void {
  const json = JSON.stringify(s).slice(1, -1);
  if (json !== s) {
    escapeForms(json, add);
    urlForms(json, add);
    binaryForms(utf8(json), add);
  }
  if (/[<>&]/.test(json)) add(json.replace(/[<>&]/g, uEscape));
  add(s.replace(/[\s\S]/g, uEscape));
}

/** Every form of one string (no line splitting); `binary` false: the text forms only. */
function stringForms(s: string, add: (f: string) => void, binary = true): void {
  add(s);
  if (!PLAIN.test(s)) {
    escapeForms(s, add);
    urlForms(s, add);
  }
  if (binary) {
    binaryForms(utf8(s), add);
    if (s.length <= MAX_NESTED) nestedForms(s, add);
  }
}

/**
 * Lines of a value with more lines than this get their text forms only
 * (raw, escaped, URL-encoded), not hex and base64 each: the value as a
 * whole has those. A 200 KB value of 2 000 lines took ~60 ms of CPU to
 * register with them; a key or a certificate (≤ 64 lines) keeps them all.
 */
export const MAX_LINES_ENCODED = 64;

/** Strip one pair of surrounding quotes (runner `TrimDoubleQuotes`, Azure quote-like chars). */
function unquoted(s: string): string | null {
  const q = s[0];
  return s.length > 2 && (q === '"' || q === "'" || q === "`") && s[s.length - 1] === q ? s.slice(1, -1) : null;
}

/**
 * All the forms in which `secret` could show up in text, each at least
 * {@link MIN_FORM_LEN} characters, without duplicates. Bytes that are not a
 * string (keys) get the binary forms only. Never throws for any string or
 * byte array (a lone surrogate is encoded as U+FFFD, as UTF-8 would carry it).
 */
export function encodedForms(secret: string | Uint8Array): string[] {
  const out = new Set<string>();
  const add = (f: string) => {
    if (f.length >= MIN_FORM_LEN) out.add(f);
  };
  if (typeof secret !== "string") {
    binaryForms(secret, add);
    return [...out];
  }
  const whole = new Set([secret, secret.trim()]);
  const uq = unquoted(secret.trim());
  if (uq !== null) whole.add(uq);
  for (const p of whole) if (p.length >= MIN_FORM_LEN) stringForms(p, add);
  const lines = secret.split(LINE_SPLIT);
  if (lines.length > 1) {
    const binary = lines.length <= MAX_LINES_ENCODED;
    for (const l of new Set(lines.map((x) => x.trim()))) if (l.length >= MIN_FORM_LEN && !whole.has(l)) stringForms(l, add, binary);
  }
  return [...out];
}
