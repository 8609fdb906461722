/**
 * The daemon's audit sealing state file (PROTOCOL.md §9.4): the one key
 * file `hush serve` rewrites. It holds the current epoch n, the key id and
 * S_n (src/audit/sealing.ts), as a key file whose secret line is
 *
 *     HUSH-AUDIT-STATE-1…  = bech32 of  2 (1 byte) ‖ n (8 bytes, big-endian) ‖ key id (9 bytes) ‖ S_n (32 bytes)
 *
 * Rules (SECURITY.md, "audit sealing state"):
 * - it must be a regular file (no symlink), owned by the daemon's uid, and
 *   readable and writable by that uid only (mode 0600); anything else is
 *   refused at start, because whoever has read it can forge seals from its
 *   epoch on;
 * - its directories follow the audit file's rules (src/os/file-trust.ts), and the
 *   one that holds it may not be writable by group or others even when
 *   sticky (not /tmp): whoever can make entries there could plant the temp
 *   name or keep old states alive;
 * - one daemon per state file: it is locked (flock) from load to close;
 * - it is rewritten atomically: a temp file `.NAME.<16 random hex>.tmp` in
 *   the same directory, created exclusively (O_EXCL | O_NOFOLLOW, mode 0600)
 *   and locked, written, fsync'ed, renamed over the old file, then the
 *   directory is fsync'ed; the old file's bytes are overwritten with zeros
 *   through the descriptor that held its lock, which is then closed (best
 *   effort: a copy-on-write filesystem, an SSD's remapping, a snapshot or a
 *   backup can keep old blocks); when no new file can be made (a full
 *   disk), the file is overwritten in place and fdatasync'ed instead;
 * - nothing else secret is written: seal keys live in memory only.
 * @module
 */
import { closeSync, fchmodSync, fdatasyncSync, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeSync, constants as fsc, type Stats } from "node:fs";
import { basename, dirname, join } from "node:path";
import { HushError } from "../errors.ts";
import { concatBytes, fromB64u, randomBytes, toB64u, toHex, utf8, wipe } from "../crypto/index.ts";
import { HRP, decodeKeyString, encodeKeyString, formatKeyFile, parseKeyFile } from "../keys/index.ts";
import { tryLockFile } from "../os/lock.ts";
import { SEAL_SEED_BYTES, epochSealKey, evolveSealState, initialSealState, sealKeyId, sealMacV2 } from "./sealing.ts";
import { lockOrRefuse, untrustedDirectory } from "../os/file-trust.ts";
import type { LastSeal } from "./file.ts";

/** The hint printed under each refusal of the sealing state's place. */
export const STATE_PATH_HINT =
  "keep the sealing state in a directory that only the daemon's user (or root) can write, e.g. mkdir -m 700 /var/lib/hush, owned by that user; never in /tmp or another shared directory";

const FORMAT = 2;
const RAW_BYTES = 1 + 8 + 9 + SEAL_SEED_BYTES;

/** The text of a state file for (epoch, keyId, state). */
export function formatSealStateFile(epoch: number, keyId: string, state: Uint8Array): string {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new TypeError("epoch must be a non-negative integer");
  const head = new Uint8Array(9);
  head[0] = FORMAT;
  new DataView(head.buffer).setBigUint64(1, BigInt(epoch));
  const raw = concatBytes(head, fromB64u(keyId), state);
  try {
    return formatKeyFile(encodeKeyString(HRP.auditState, raw), {
      kind: "audit sealing state",
      note: `key id ${keyId}, epoch ${epoch}. Rewritten by hush serve at every seal; keep it 0600, owned by the daemon's user, on the daemon's host only`,
    });
  } finally {
    wipe(raw);
  }
}

/** Parse a state file's text. Throws HushError `invalid_request` (never echoing the text). */
export function parseSealStateFile(text: string, what = "audit sealing state"): { epoch: number; keyId: string; state: Uint8Array } {
  const raw = decodeKeyString(HRP.auditState, parseKeyFile(text), what);
  try {
    if (raw.length !== RAW_BYTES || raw[0] !== FORMAT) throw new HushError("invalid_request", `${what}: unknown format or wrong length`);
    const epoch = new DataView(raw.buffer, raw.byteOffset).getBigUint64(1);
    if (epoch > BigInt(Number.MAX_SAFE_INTEGER)) throw new HushError("invalid_request", `${what}: epoch out of range`);
    return { epoch: Number(epoch), keyId: toB64u(raw.subarray(9, 18)), state: raw.slice(18) };
  } finally {
    wipe(raw);
  }
}

/** The initial state file of a verification key (what `hush keygen audit` writes). */
export function initialSealStateFile(seed: Uint8Array): string {
  const s = initialSealState(seed);
  try {
    return formatSealStateFile(0, sealKeyId(seed), s);
  } finally {
    wipe(s);
  }
}

/** The most epochs a start moves the state on to catch up with the log (about a second of HMACs). */
export const MAX_EPOCH_CATCH_UP = 1_000_000;

/**
 * Refuse a place for the state file (before it is made, or loaded) whose
 * directories another user could write (src/os/file-trust.ts; here the
 * holding directory may not be group- or world-writable even when sticky,
 * so /tmp is refused). Throws HushError `invalid_request` with a hint.
 */
export function checkSealStateDirectory(path: string): void {
  const why = untrustedDirectory(path, process.getuid!(), false);
  if (why) throw new HushError("invalid_request", `audit state file ${path}: ${why}`, { hint: STATE_PATH_HINT });
}

/**
 * The daemon's sealing state: loaded from its file, evolved in memory,
 * saved back atomically. One daemon per state file: the file is locked
 * (flock, exclusive) from `load` to `close`, and every rewrite locks the new
 * file before it replaces the old one, so the name always refers to a locked
 * file while a daemon holds it.
 */
export class SealStateFile {
  readonly path: string;
  readonly keyId: string;
  private _epoch: number;
  private state: Uint8Array;
  private _dirty = false;
  /** The open, locked descriptor of the file the path names now (-1 once closed). */
  private fd: number;

  private constructor(path: string, fd: number, epoch: number, keyId: string, state: Uint8Array) {
    this.path = path;
    this.fd = fd;
    this._epoch = epoch;
    this.keyId = keyId;
    this.state = state;
  }

  /**
   * Check the directory and the file (regular, not a symlink, owned by this
   * uid, mode 0600), lock it, and load it; temp files left by a crash are
   * erased. Throws HushError `invalid_request` with what to do; `conflict`
   * when another daemon holds the file (its pid when it can be told).
   */
  static load(path: string): SealStateFile {
    checkSealStateDirectory(path);
    for (let attempt = 0; ; attempt++) {
      checkSecretFile(path, inspect(path));
      let fd: number;
      try {
        fd = openSync(path, fsc.O_RDWR | fsc.O_NOFOLLOW);
      } catch (e: any) {
        throw new HushError("invalid_request", `cannot open audit state file ${path}: ${e?.code === "ELOOP" ? "it is a symbolic link" : (e?.code ?? e)}`);
      }
      try {
        checkSecretFile(path, fstatSync(fd)); // the file opened, not only the name looked at
        lockOrRefuse(fd, path, "audit state file", "--audit-state-file");
        // Locked; but is it still the file the name refers to? (A daemon that
        // rewrote it meanwhile dropped the lock of the old one.)
        if (!sameFile(fd, path)) {
          if (attempt < 3) {
            closeSync(fd);
            continue;
          }
          throw new HushError("conflict", `audit state file ${path} keeps being replaced: another hush daemon is writing it`);
        }
        eraseTempFiles(path);
        const s = parseSealStateFile(readFileSync(fd, "utf8"), `audit state file ${path}`);
        return new SealStateFile(path, fd, s.epoch, s.keyId, s.state);
      } catch (e) {
        closeSync(fd);
        throw e;
      }
    }
  }

  /** n: the epoch the next seal will have. */
  get epoch(): number {
    return this._epoch;
  }

  /** True while the evolved state is not yet saved. */
  get dirty(): boolean {
    return this._dirty;
  }

  /** K_n for the next seal. The caller wipes it. */
  sealKey(): Uint8Array {
    return epochSealKey(this.state);
  }

  /** S_{n+1} replaces S_n in memory (S_n is wiped); `persist()` saves it. */
  advance(): void {
    const next = evolveSealState(this.state);
    wipe(this.state);
    this.state = next;
    this._epoch++;
    this._dirty = true;
  }

  /**
   * Check the state against the log's last seal (`last`, from openAuditFile).
   * Returns warnings; throws HushError `invalid_request` when the log was
   * sealed with another key, or its last seal is ahead of the state but is
   * not one this chain made (its MAC fails under the key of its epoch), or
   * is more than MAX_EPOCH_CATCH_UP epochs ahead. Otherwise moves the state
   * past an epoch the log already used (a crash between a seal and the save
   * of the evolved state, or a state restored from a backup); the caller
   * saves it.
   */
  reconcile(last: LastSeal | null, logPath: string): string[] {
    if (!last || last.keyId === undefined) return [];
    if (last.keyId !== this.keyId) {
      throw new HushError("invalid_request", `audit file ${logPath} was sealed with another audit key (key id ${last.keyId}; the state file's is ${this.keyId}): start a new --audit-file for a new key`);
    }
    if (last.epoch >= this._epoch) {
      const from = this._epoch;
      const where = `the last seal in audit file ${logPath} (seq ${last.seq}) is epoch ${last.epoch}, but audit state file ${this.path} is at epoch ${from}`;
      if (last.epoch - from >= MAX_EPOCH_CATCH_UP) {
        throw new HushError("invalid_request", `${where}: more than ${MAX_EPOCH_CATCH_UP} epochs ahead, which no crash explains (a seal line appended by someone else, or a state file from a very old backup); refusing to move the state on`, {
          hint: "check the file with hush audit verify --key-file on the verification key's host; to go on, start a new --audit-file with a new key (hush keygen audit)",
        });
      }
      let st: Uint8Array = this.state.slice();
      for (let e = from; e < last.epoch; e++) st = replace(st, evolveSealState(st));
      const key = epochSealKey(st);
      const good = sealMacV2(key, this.keyId, last.seq, last.epoch, last.prev, last.ts) === last.mac;
      wipe(key);
      if (!good) {
        wipe(st);
        throw new HushError("invalid_request", `${where}, and that seal does not verify with the sealing state: this daemon's chain did not write it (a forged or changed seal line); refusing to move the state on`, {
          hint: "check the file with hush audit verify --key-file on the verification key's host; move the file aside and start a new --audit-file",
        });
      }
      wipe(this.state);
      this.state = evolveSealState(st);
      wipe(st);
      this._epoch = last.epoch + 1;
      this._dirty = true;
      return [`audit state file ${this.path} was at epoch ${from}, but the audit file already has a seal of epoch ${last.epoch} (seq ${last.seq}): moved the state on to epoch ${last.epoch + 1} (a crash right after a seal, or a state file restored from a backup)`];
    }
    if (last.epoch + 2 === this._epoch) {
      return [`the last seal in audit file ${logPath} is epoch ${last.epoch} (seq ${last.seq}), but the sealing state is at epoch ${this._epoch}: the seal of epoch ${last.epoch + 1} was never written (the daemon stopped after it had replaced the state and before the seal line was in the file, PROTOCOL.md §9.4), or sealed lines were cut from the end; hush audit verify reports the skipped epoch, and --closed fails on it`];
    }
    if (last.epoch + 1 < this._epoch) {
      return [`the last seal in audit file ${logPath} is epoch ${last.epoch} (seq ${last.seq}), but the sealing state is at epoch ${this._epoch}: sealed lines of epochs ${last.epoch + 1}..${this._epoch - 1} are missing from the file (cut, or replaced by an older copy?); hush audit verify will report the gap`];
    }
    return [];
  }

  /**
   * Save the current state (see the module comment): a temp file with a
   * random name, created exclusively and locked, replaces the file; the old
   * file's bytes are zeroed and its lock dropped. When no new file can be
   * made (ENOSPC, EDQUOT, EMFILE…) and the path still names the locked file,
   * the file is overwritten in place instead (same place, old bytes
   * overwritten, fdatasync'ed). Throws the fs error of the replace when
   * neither works: the state on disk is then the old one, or — if the
   * in-place write failed part-way — a torn file that the next start
   * refuses; never a newer state the caller would not know about.
   */
  persist(): void {
    if (this.fd < 0) throw new Error("audit state file: closed");
    const bytes = utf8(formatSealStateFile(this._epoch, this.keyId, this.state));
    try {
      try {
        this.replaceFile(bytes);
      } catch (e) {
        if (!sameFile(this.fd, this.path)) throw e; // the name no longer leads here: writing in place saves nothing
        try {
          overwriteInPlace(this.fd, bytes);
        } catch {
          throw e;
        }
      }
    } finally {
      wipe(bytes);
    }
    this._dirty = false;
  }

  /** The atomic rewrite: temp file, fsync, rename, directory fsync, old file zeroed. Throws the fs error (the old file and its lock stay). */
  private replaceFile(bytes: Uint8Array): void {
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${toHex(randomBytes(8))}.tmp`);
    let fd = -1;
    try {
      fd = openSync(tmp, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      fchmodSync(fd, 0o600);
      if (!tryLockFile(fd, tmp)) throw Object.assign(new Error(`${tmp} is locked by another process`), { code: "EAGAIN" });
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
      renameSync(tmp, this.path);
    } catch (e) {
      if (fd >= 0) {
        closeSync(fd);
        eraseFile(tmp);
      }
      throw e;
    }
    const old = this.fd;
    this.fd = fd;
    syncDir(dirname(this.path));
    zeroAndClose(old);
  }

  /** Wipe the in-memory state and drop the file's lock (at the end of a run, after `persist()`). Idempotent. */
  close(): void {
    wipe(this.state);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** lstat the state file: HushError `invalid_request` when it is missing or cannot be inspected. */
function inspect(path: string): Stats {
  try {
    return lstatSync(path);
  } catch (e: any) {
    if (e?.code === "ENOENT") throw new HushError("invalid_request", `audit state file ${path} does not exist; make it with: hush keygen audit --out audit.verify --state-out ${path}`);
    throw new HushError("invalid_request", `cannot inspect audit state file ${path}: ${e?.code ?? e}`);
  }
}

/** A state file must be a regular file (not a symlink), owned by this uid, mode 0600. */
function checkSecretFile(path: string, st: Stats): void {
  if (st.isSymbolicLink()) throw new HushError("invalid_request", `audit state file ${path} is a symbolic link; refusing to follow it`);
  if (!st.isFile()) throw new HushError("invalid_request", `audit state file ${path} is not a regular file`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new HushError("invalid_request", `audit state file ${path} is owned by uid ${st.uid}, but hush serve runs as uid ${uid}: chown it to the daemon's user (the daemon replaces it at every seal)`);
  }
  if (st.mode & 0o077) {
    throw new HushError(
      "invalid_request",
      `audit state file ${path} has mode ${(st.mode & 0o777).toString(8)}: others may have read it, and whoever did can forge seals from its epoch on; make a new key (hush keygen audit) or, if you are sure nobody read it, chmod 600 it`,
    );
  }
}

/** Wipe `old`, return `next`. */
function replace(old: Uint8Array, next: Uint8Array): Uint8Array {
  wipe(old);
  return next;
}

/** True when `path` names the file open at `fd` (same device and inode). */
function sameFile(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = lstatSync(path);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

/**
 * Erase temp files of `path` left by a crash: `.NAME.<16 hex>.tmp` (and
 * `.NAME.tmp` of earlier versions), regular files owned by this uid only.
 * Called with the state file's lock held, so no daemon is writing one.
 */
function eraseTempFiles(path: string): void {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(`.${base}.`) || !n.endsWith(".tmp")) continue;
    const mid = n.slice(base.length + 2, -4);
    if (mid !== "" && !/^[0-9a-f]{16}$/.test(mid)) continue;
    const p = join(dir, n);
    try {
      const st = lstatSync(p);
      if (st.isFile() && st.uid === process.getuid?.()) eraseFile(p);
    } catch {}
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Write `bytes` over the file open at `fd` from offset 0, padded with
 * newlines to the file's old size (so no byte of the old state is left;
 * the key-file parser skips blank lines), then fdatasync. Needs no new
 * block on a filesystem that already holds the file's one block, so it
 * works on a full disk. Not atomic against power loss mid-write. Throws the
 * fs error.
 */
function overwriteInPlace(fd: number, bytes: Uint8Array): void {
  const size = fstatSync(fd).size;
  const out = new Uint8Array(Math.max(size, bytes.length)).fill(0x0a);
  out.set(bytes);
  try {
    for (let off = 0; off < out.length; ) {
      const n = writeSync(fd, out, off, out.length - off, off);
      if (n <= 0) throw Object.assign(new Error("write returned 0"), { code: "EIO" });
      off += n;
    }
    fdatasyncSync(fd);
  } finally {
    wipe(out);
  }
}

/** Overwrite an open file's bytes with zeros, sync and close it. Best effort. */
function zeroAndClose(fd: number): void {
  try {
    const size = fstatSync(fd).size;
    const zeros = new Uint8Array(Math.min(size, 1 << 16));
    for (let off = 0; off < size; ) off += writeSync(fd, zeros, 0, Math.min(zeros.length, size - off), off);
    fdatasyncSync(fd);
  } catch {
  } finally {
    closeSync(fd);
  }
}

/** Zero a file's bytes, then unlink it. Best effort. */
function eraseFile(path: string): void {
  try {
    zeroAndClose(openSync(path, fsc.O_RDWR | fsc.O_NOFOLLOW));
  } catch {}
  try {
    unlinkSync(path);
  } catch {}
}
