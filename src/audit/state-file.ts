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
 * - it is rewritten atomically: a temp file `.NAME.tmp` in the same
 *   directory, created exclusively with mode 0600, written, fsync'ed, renamed
 *   over the old file, then the directory is fsync'ed; the old file's bytes
 *   are overwritten with zeros through a descriptor kept open across the
 *   rename (best effort: a copy-on-write filesystem, an SSD's remapping, a
 *   snapshot or a backup can keep old blocks);
 * - nothing else secret is written: seal keys live in memory only.
 * @module
 */
import { closeSync, fchmodSync, fdatasyncSync, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, constants as fsc } from "node:fs";
import { basename, dirname, join } from "node:path";
import { HushError } from "../errors.ts";
import { concatBytes, fromB64u, toB64u, utf8, wipe } from "../crypto/index.ts";
import { HRP, decodeKeyString, encodeKeyString, formatKeyFile, parseKeyFile } from "../keys/index.ts";
import { SEAL_SEED_BYTES, epochSealKey, evolveSealState, initialSealState, sealKeyId } from "./sealing.ts";
import type { LastSeal } from "./file.ts";

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

/**
 * The daemon's sealing state: loaded from its file, evolved in memory,
 * saved back atomically. One daemon per state file.
 */
export class SealStateFile {
  readonly path: string;
  readonly keyId: string;
  private _epoch: number;
  private state: Uint8Array;
  private _dirty = false;

  private constructor(path: string, epoch: number, keyId: string, state: Uint8Array) {
    this.path = path;
    this._epoch = epoch;
    this.keyId = keyId;
    this.state = state;
  }

  /**
   * Load and check the file (regular, not a symlink, owned by this uid, mode
   * 0600); a temp file left by a crash is erased. Throws HushError
   * `invalid_request` with what to do.
   */
  static load(path: string): SealStateFile {
    checkSecretFile(path, true);
    const tmp = tempPath(path);
    if (checkSecretFile(tmp, false)) eraseFile(tmp);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e: any) {
      throw new HushError("invalid_request", `cannot read audit state file ${path}: ${e?.code ?? e}`);
    }
    const s = parseSealStateFile(text, `audit state file ${path}`);
    return new SealStateFile(path, s.epoch, s.keyId, s.state);
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

  /** Advance until the epoch is `epoch` (used when the log shows the file fell behind). */
  fastForward(epoch: number): void {
    while (this._epoch < epoch) this.advance();
  }

  /**
   * Check the state against the log's last seal (`last`, from openAuditFile).
   * Returns warnings; throws HushError `invalid_request` when the log was
   * sealed with another key. Moves the state past an epoch the log already
   * used (a crash between a seal and the save of the evolved state, or a
   * state restored from a backup); the caller saves it.
   */
  reconcile(last: LastSeal | null, logPath: string): string[] {
    if (!last || last.keyId === undefined) return [];
    if (last.keyId !== this.keyId) {
      throw new HushError("invalid_request", `audit file ${logPath} was sealed with another audit key (key id ${last.keyId}; the state file's is ${this.keyId}): start a new --audit-file for a new key`);
    }
    if (last.epoch >= this._epoch) {
      const from = this._epoch;
      this.fastForward(last.epoch + 1);
      return [`audit state file ${this.path} was at epoch ${from}, but the audit file already has a seal of epoch ${last.epoch} (seq ${last.seq}): moved the state on to epoch ${last.epoch + 1} (a crash right after a seal, or a state file restored from a backup)`];
    }
    if (last.epoch + 1 < this._epoch) {
      return [`the last seal in audit file ${logPath} is epoch ${last.epoch} (seq ${last.seq}), but the sealing state is at epoch ${this._epoch}: sealed lines of epochs ${last.epoch + 1}..${this._epoch - 1} are missing from the file (cut, or replaced by an older copy?); hush audit verify will report the gap`];
    }
    return [];
  }

  /** Save the current state atomically (see the module comment). Throws the fs error. */
  persist(): void {
    const bytes = utf8(formatSealStateFile(this._epoch, this.keyId, this.state));
    const tmp = tempPath(this.path);
    let fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    let old: number | undefined;
    try {
      fchmodSync(fd, 0o600);
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
      closeSync(fd);
      fd = -1;
      try {
        old = openSync(this.path, fsc.O_RDWR | fsc.O_NOFOLLOW);
      } catch {}
      renameSync(tmp, this.path);
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      if (old !== undefined) closeSync(old);
      eraseFile(tmp);
      throw e;
    } finally {
      wipe(bytes);
    }
    syncDir(dirname(this.path));
    if (old !== undefined) zeroAndClose(old);
    this._dirty = false;
  }

  /** Wipe the in-memory state (at the end of a run, after `persist()`). */
  wipe(): void {
    wipe(this.state);
  }
}

const tempPath = (path: string) => join(dirname(path), `.${basename(path)}.tmp`);

/**
 * Check a secret file: regular, not a symlink, owned by this uid, mode 0600.
 * Returns false when it does not exist and `must` is false.
 */
function checkSecretFile(path: string, must: boolean): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch (e: any) {
    if (e?.code === "ENOENT" && !must) return false;
    if (e?.code === "ENOENT") throw new HushError("invalid_request", `audit state file ${path} does not exist; make it with: hush keygen audit --out audit.verify --state-out ${path}`);
    throw new HushError("invalid_request", `cannot inspect audit state file ${path}: ${e?.code ?? e}`);
  }
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
  return true;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
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
