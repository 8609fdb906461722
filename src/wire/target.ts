/**
 * Request targets in their canonical form (PROTOCOL.md §3, "Targets and
 * names"): a target is valid when a WHATWG URL parser, resolving it against
 * `http://localhost`, leaves `pathname + search` unchanged. The signature
 * covers the target as sent, so a target the parser would rewrite (dot
 * segments, `\`, characters it percent-encodes) is refused rather than
 * normalised.
 *
 * `canonicalTarget` answers exactly what `new URL` answers, but decides the
 * common case with one character scan: a target made only of characters the
 * parser copies as they are, with well-formed `%XX` escapes and no segment
 * that could be a dot segment, is canonical without parsing. Anything else
 * (rare: hostile or unusual input) goes to `new URL`. test/wire/target.test.ts
 * checks the scan against the parser on generated targets.
 *
 * Pure and synchronous: used by the daemon (WebSocket transport) and the SDK,
 * in Bun and in Node ≥ 20.
 * @module
 */

/**
 * Per character code < 128: 1 where the parser copies the character
 * unchanged in a path and in a query of a special (http) URL. Excluded:
 * controls, space, `"` `#` `'` `<` `>` `\` `^` `` ` `` `{` `|` `}` DEL (encoded,
 * rewritten or meaning something else somewhere), and `%` and `?` and `.`,
 * which the scan handles itself.
 */
const PLAIN = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~!$&()*+,;=:@/") PLAIN[c.charCodeAt(0)] = 1;

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * True when `t` is certainly canonical: it starts with one `/` (not `//`),
 * every character is plain (above), `%` is always followed by two hex
 * digits, the first `?` starts a non-empty query, and no path segment starts
 * with `.` or `%2e` (the shapes of `.` and `..`, however escaped). False
 * means "ask the parser", not "invalid".
 */
export function isPlainTarget(t: string): boolean {
  const n = t.length;
  if (n === 0 || t.charCodeAt(0) !== 47 || (n > 1 && t.charCodeAt(1) === 47)) return false;
  let inQuery = false;
  let segStart = true;
  for (let i = 1; i < n; i++) {
    const c = t.charCodeAt(i);
    if (c === 47) {
      segStart = !inQuery;
      continue;
    }
    if (c === 63) {
      if (i === n - 1) return false; // an empty query: the parser drops the "?"
      inQuery = true;
      segStart = false;
      continue;
    }
    if (c === 46) {
      if (segStart) return false;
      continue;
    }
    if (c === 37) {
      if (i + 2 >= n || !isHex(t.charCodeAt(i + 1)) || !isHex(t.charCodeAt(i + 2))) return false;
      if (segStart && t.charCodeAt(i + 1) === 50 && (t.charCodeAt(i + 2) | 0x20) === 101) return false; // %2e, %2E
      i += 2;
      segStart = false;
      continue;
    }
    if (c >= 128 || PLAIN[c] === 0) return false;
    segStart = false;
  }
  return true;
}

/**
 * `target` when a WHATWG URL parser leaves it unchanged (`pathname + search`
 * against `http://localhost`), else null. Never throws.
 */
export function canonicalTarget(target: string): string | null {
  if (isPlainTarget(target)) return target;
  try {
    const u = new URL(target, "http://localhost");
    return u.pathname + u.search === target ? target : null;
  } catch {
    return null;
  }
}
