/**
 * Minisign signatures for release files, compatible with the reference tool:
 * users verify with `minisign -Vm SHA256SUMS -P <public key>`.
 *
 * Formats (minisign spec, https://jedisct1.github.io/minisign/, "Signature format"):
 *   public key file   "untrusted comment: …\n" + base64("Ed" ‖ key_id[8] ‖ pk[32]) + "\n"
 *   signature file    "untrusted comment: …\n" + base64("ED" ‖ key_id[8] ‖ sig[64]) + "\n"
 *                     "trusted comment: …\n"   + base64(global_sig[64]) + "\n"
 *     sig        = Ed25519(sk, BLAKE2b-512(file))          ("ED" = prehashed, minisign ≥ 0.8)
 *     global_sig = Ed25519(sk, sig ‖ trusted_comment)      (comment bytes without prefix or "\n")
 *   secret key file   "untrusted comment: …\n" + base64(
 *                       "Ed" ‖ kdf "\0\0" ‖ "B2" ‖ salt[32] ‖ opslimit[8] ‖ memlimit[8]
 *                       ‖ key_id[8] ‖ sk[64] (seed ‖ pk) ‖ checksum[32]) + "\n"
 *     checksum = BLAKE2b-256("Ed" ‖ key_id ‖ sk).
 * key_id is 8 random bytes, shown as the hex of its little-endian u64 value.
 *
 * Only the unencrypted secret key (kdf "\0\0", what `minisign -G -W` writes)
 * is read and written here: a release job gets its key from a CI secret, not a
 * password prompt. An encrypted key ("Sc") is refused with a hint.
 *
 * This file is release tooling outside src/ and the only release file that
 * imports crypto libraries (Ed25519 from @noble/curves, BLAKE2b from
 * @noble/hashes). No hand-rolled cryptography: only the file formats are here.
 *
 * CLI (key management for the release key):
 *   bun release/minisign.ts generate --secret-key-file FILE [--public-key-file FILE]
 *   bun release/minisign.ts public-key [--key-file FILE]     (or HUSH_RELEASE_KEY)
 *   bun release/minisign.ts verify -m FILE [-x SIGFILE] -P PUBKEY
 * @module
 */
import { concatBytes } from "../src/crypto/bytes.ts";
import { chmodSync, closeSync, fstatSync, openSync, readFileSync, writeSync } from "node:fs";
import { ed25519 } from "@noble/curves/ed25519.js";
import { blake2b } from "@noble/hashes/blake2.js";
import { randomBytes } from "@noble/hashes/utils.js";

const SIG_ALG = "Ed";
const SIG_ALG_HASHED = "ED";
const KDF_NONE = "\0\0";
const KDF_SCRYPT = "Sc";
const CHK_ALG = "B2";
const COMMENT_PREFIX = "untrusted comment: ";
const TRUSTED_PREFIX = "trusted comment: ";
/** minisign.h: COMMENTMAXBYTES 1024 and TRUSTEDCOMMENTMAXBYTES 8192, both with prefix and NUL. */
const UNTRUSTED_MAX = 1024 - COMMENT_PREFIX.length - 2;
const TRUSTED_MAX = 8192 - TRUSTED_PREFIX.length - 2;
const PUBLIC_KEY_BYTES = 2 + 8 + 32;
const SIGNATURE_BYTES = 2 + 8 + 64;
const SECRET_KEY_BYTES = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;

export interface PublicKey {
  /** 8 bytes, as stored in the files. */
  keyId: Uint8Array;
  /** Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
}

export interface KeyPair extends PublicKey {
  /** Ed25519 seed (RFC 8032 secret key), 32 bytes. Wipe with `wipeKeyPair` when done. */
  seed: Uint8Array;
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const latin1 = (b: Uint8Array) => String.fromCharCode(...b);


function _equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const _b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

/** Strict standard base64 (libsodium's ORIGINAL variant, padded) of exactly `len` bytes. */
function _unb64(s: string, len: number, what: string): Uint8Array {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) throw new Error(`${what}: not base64`);
  const b = new Uint8Array(Buffer.from(t, "base64"));
  if (b.length !== len) throw new Error(`${what}: expected ${len} bytes, got ${b.length}`);
  return b;
}

function _checkComment(c: string, max: number, what: string): void {
  if (c.length > max) throw new Error(`${what}: longer than ${max} bytes`);
  // minisign reads one line and cuts it at the first CR/LF (helpers.c trim()).
  if (/[\0-\x08\n-\x1f\x7f]/.test(c)) throw new Error(`${what}: must be one line without control characters (tab allowed)`);
}

/** The key id as minisign prints it: upper-case hex of the little-endian u64. */
export function keyIdHex(keyId: Uint8Array): string {
  return Buffer.from(keyId).reverse().toString("hex").toUpperCase();
}

/** A fresh key pair (random key id, random Ed25519 seed). */
export function generateKeyPair(): KeyPair {
  const seed = ed25519.utils.randomSecretKey();
  return { keyId: randomBytes(8), seed, publicKey: ed25519.getPublicKey(seed) };
}

/** Zero the seed in place. */
export function wipeKeyPair(kp: KeyPair): void {
  kp.seed.fill(0);
}

/** The base64 string users pass to `minisign -P`. */
export function encodePublicKey(pk: PublicKey): string {
  return _b64(concatBytes(ascii(SIG_ALG), pk.keyId, pk.publicKey));
}

/** A `minisign.pub` file. */
export function formatPublicKeyFile(pk: PublicKey): string {
  return `${COMMENT_PREFIX}minisign public key ${keyIdHex(pk.keyId)}\n${encodePublicKey(pk)}\n`;
}

/** Parse a `-P` string or a whole public key file. */
export function parsePublicKey(text: string): PublicKey {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const line = lines.length > 1 && lines[0].startsWith(COMMENT_PREFIX) ? lines[1] : lines[0] ?? "";
  const b = _unb64(line, PUBLIC_KEY_BYTES, "public key");
  if (latin1(b.subarray(0, 2)) !== SIG_ALG) throw new Error("public key: unsupported signature algorithm");
  return { keyId: b.slice(2, 10), publicKey: b.slice(10) };
}

function _checksum(keyId: Uint8Array, sk: Uint8Array): Uint8Array {
  return blake2b(concatBytes(ascii(SIG_ALG), keyId, sk), { dkLen: 32 });
}

/**
 * An unencrypted minisign secret key file (the `minisign -G -W` format), so
 * the same key works with `minisign -S -s FILE` too. Holds the secret: write
 * it only with `writeSecretFile`.
 */
export function formatSecretKeyFile(kp: KeyPair): string {
  const sk = concatBytes(kp.seed, kp.publicKey);
  const body = concatBytes(ascii(SIG_ALG + KDF_NONE + CHK_ALG), new Uint8Array(32 + 8 + 8), kp.keyId, sk, _checksum(kp.keyId, sk));
  const out = `${COMMENT_PREFIX}minisign secret key ${keyIdHex(kp.keyId)} (unencrypted; keep it in a CI secret)\n${_b64(body)}\n`;
  sk.fill(0);
  body.fill(0);
  return out;
}

/**
 * Parse an unencrypted minisign secret key: a whole file, or only its base64
 * line (convenient for a CI secret). Errors never echo the input.
 */
export function parseSecretKey(text: string): KeyPair {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const line = lines.length > 1 && lines[0].startsWith(COMMENT_PREFIX) ? lines[1] : lines[0] ?? "";
  const b = _unb64(line, SECRET_KEY_BYTES, "secret key");
  try {
    if (latin1(b.subarray(0, 2)) !== SIG_ALG) throw new Error("secret key: unsupported signature algorithm");
    const kdf = latin1(b.subarray(2, 4));
    if (kdf === KDF_SCRYPT) throw new Error("secret key: it is encrypted with a password; remove the password with `minisign -C -W -s FILE` for a CI secret");
    if (kdf !== KDF_NONE) throw new Error("secret key: unsupported key derivation function");
    if (latin1(b.subarray(4, 6)) !== CHK_ALG) throw new Error("secret key: unsupported checksum function");
    const keyId = b.slice(54, 62);
    const sk = b.subarray(62, 126);
    const chk = b.subarray(126, 158);
    // minisign 0.11 `-G -W` leaves the checksum zero; when present it must match.
    if (chk.some((x) => x !== 0) && !_equal(chk, _checksum(keyId, sk))) throw new Error("secret key: checksum mismatch (corrupted key)");
    const seed = sk.slice(0, 32);
    const publicKey = ed25519.getPublicKey(seed);
    if (!_equal(publicKey, sk.subarray(32))) {
      seed.fill(0);
      throw new Error("secret key: the public half does not match the seed (corrupted key)");
    }
    return { keyId, seed, publicKey };
  } finally {
    b.fill(0);
  }
}

export interface SignOptions {
  /** One line, signed (shown by `minisign -V`). Default: minisign's "timestamp:…\tfile:…\thashed". */
  trustedComment?: string;
  untrustedComment?: string;
  /** File name for the default trusted comment. */
  fileName?: string;
  /** Unix seconds for the default trusted comment (default: SOURCE_DATE_EPOCH or now). */
  timestamp?: number;
}

function _defaultTimestamp(): number {
  const e = process.env.SOURCE_DATE_EPOCH;
  return e && /^\d+$/.test(e) ? Number(e) : Math.floor(Date.now() / 1000);
}

/** A `.minisig` file for `message` (prehashed "ED" algorithm, as minisign ≥ 0.8 writes). */
export function signFile(kp: KeyPair, message: Uint8Array, opts: SignOptions = {}): string {
  const trusted = opts.trustedComment ?? `timestamp:${opts.timestamp ?? _defaultTimestamp()}\tfile:${opts.fileName ?? "-"}\thashed`;
  const untrusted = opts.untrustedComment ?? `signature from minisign secret key ${keyIdHex(kp.keyId)}`;
  _checkComment(trusted, TRUSTED_MAX, "trusted comment");
  _checkComment(untrusted, UNTRUSTED_MAX, "untrusted comment");
  const sig = ed25519.sign(blake2b(message, { dkLen: 64 }), kp.seed);
  const globalSig = ed25519.sign(concatBytes(sig, new TextEncoder().encode(trusted)), kp.seed);
  return `${COMMENT_PREFIX}${untrusted}\n${_b64(concatBytes(ascii(SIG_ALG_HASHED), kp.keyId, sig))}\n${TRUSTED_PREFIX}${trusted}\n${_b64(globalSig)}\n`;
}

/**
 * Verify a `.minisig` file as `minisign -V` does (both the legacy "Ed" and the
 * prehashed "ED" algorithm); returns the trusted comment or throws.
 */
export function verifyFile(pk: PublicKey, message: Uint8Array, sigText: string): { trustedComment: string } {
  const lines = sigText.split("\n").map((l) => l.replace(/\r$/, ""));
  if (lines.length < 4 || !lines[0].startsWith(COMMENT_PREFIX) || !lines[2].startsWith(TRUSTED_PREFIX)) throw new Error("signature: malformed file");
  const s = _unb64(lines[1], SIGNATURE_BYTES, "signature");
  const alg = latin1(s.subarray(0, 2));
  if (alg !== SIG_ALG && alg !== SIG_ALG_HASHED) throw new Error("signature: unsupported algorithm");
  if (!_equal(s.subarray(2, 10), pk.keyId)) throw new Error(`signature: made by key ${keyIdHex(s.subarray(2, 10))}, not ${keyIdHex(pk.keyId)}`);
  const sig = s.subarray(10);
  const msg = alg === SIG_ALG_HASHED ? blake2b(message, { dkLen: 64 }) : message;
  if (!ed25519.verify(sig, msg, pk.publicKey)) throw new Error("signature verification failed");
  const trustedComment = lines[2].slice(TRUSTED_PREFIX.length);
  const globalSig = _unb64(lines[3], 64, "comment signature");
  if (!ed25519.verify(globalSig, concatBytes(sig, new TextEncoder().encode(trustedComment)), pk.publicKey)) throw new Error("comment signature verification failed");
  return { trustedComment };
}

/**
 * Write a secret to a file the caller named: exclusive create (never
 * overwrites), mode 0600 regardless of umask.
 */
export function writeSecretFile(path: string, text: string): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    chmodSync(path, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/**
 * The release key from `keyFile` or, without one, from the HUSH_RELEASE_KEY
 * environment variable (whole file or its base64 line); undefined if neither.
 * Warns when the key file is readable by group or others.
 */
export function loadReleaseKey(keyFile?: string, env: Record<string, string | undefined> = process.env): KeyPair | undefined {
  if (keyFile) {
    const fd = openSync(keyFile, "r");
    try {
      if (fstatSync(fd).mode & 0o077) console.error(`hush: warning: ${keyFile} is readable by group or others (chmod 600 it)`);
      return parseSecretKey(readFileSync(fd, "utf8"));
    } finally {
      closeSync(fd);
    }
  }
  const v = env.HUSH_RELEASE_KEY;
  return v && v.trim() ? parseSecretKey(v) : undefined;
}

function _arg(argv: string[], ...names: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    for (const n of names) {
      if (argv[i] === n) return argv[i + 1];
      if (argv[i].startsWith(n + "=")) return argv[i].slice(n.length + 1);
    }
  }
  return undefined;
}

async function _main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === "generate") {
    const out = _arg(rest, "--secret-key-file", "-s");
    if (!out) {
      console.error("hush: error: generate needs --secret-key-file FILE (created exclusively, mode 0600)");
      return 2;
    }
    const pubOut = _arg(rest, "--public-key-file", "-p");
    const kp = generateKeyPair();
    try {
      writeSecretFile(out, formatSecretKeyFile(kp));
      if (pubOut) await Bun.write(pubOut, formatPublicKeyFile(kp));
      process.stdout.write(`${encodePublicKey(kp)}\n`);
      console.error(`hush: wrote the secret key to ${out} (0600); store it as the HUSH_RELEASE_KEY CI secret and delete the file.`);
      console.error(`hush: public key ${keyIdHex(kp.keyId)} (put it in the README): minisign -Vm SHA256SUMS -P ${encodePublicKey(kp)}`);
      return 0;
    } finally {
      wipeKeyPair(kp);
    }
  }
  if (cmd === "public-key") {
    const kp = loadReleaseKey(_arg(rest, "--key-file", "-s"));
    if (!kp) {
      console.error("hush: error: no key: pass --key-file FILE or set HUSH_RELEASE_KEY");
      return 2;
    }
    process.stdout.write(formatPublicKeyFile(kp));
    wipeKeyPair(kp);
    return 0;
  }
  if (cmd === "verify") {
    const file = _arg(rest, "-m");
    const pub = _arg(rest, "-P");
    const pubFile = _arg(rest, "-p");
    if (!file || (!pub && !pubFile)) {
      console.error("hush: error: verify needs -m FILE and -P PUBKEY or -p PUBKEYFILE");
      return 2;
    }
    const pk = parsePublicKey(pub ?? readFileSync(pubFile!, "utf8"));
    const sigFile = _arg(rest, "-x") ?? `${file}.minisig`;
    try {
      const r = verifyFile(pk, readFileSync(file), readFileSync(sigFile, "utf8"));
      process.stdout.write(`Signature and comment signature verified\nTrusted comment: ${r.trustedComment}\n`);
      return 0;
    } catch (e) {
      console.error(`hush: error: ${(e as Error).message}`);
      return 1;
    }
  }
  console.error("usage: bun release/minisign.ts generate --secret-key-file FILE [--public-key-file FILE]\n" + "       bun release/minisign.ts public-key [--key-file FILE]   (or HUSH_RELEASE_KEY)\n" + "       bun release/minisign.ts verify -m FILE [-x SIGFILE] (-P PUBKEY | -p PUBKEYFILE)");
  return 2;
}

if (import.meta.main) {
  try {
    process.exit(await _main(process.argv.slice(2)));
  } catch (e) {
    console.error(`hush: error: ${(e as Error).message}`);
    process.exit(1);
  }
}
