/**
 * Opening the audit file for appending (PROTOCOL.md §9.1): refuse symlinks
 * and non-regular files, take the file's exclusive lock (one daemon per
 * audit file: the lock lasts as long as the descriptor), tighten a loose
 * mode, and find where the chain continues (the last line's seq and hash)
 * and the last seal line, so that a new run can check the sealing state
 * against the log.
 * @module
 */
import { closeSync, fchmodSync, fstatSync, lstatSync, openSync, readSync, constants as fsc } from "node:fs";
import { HushError } from "../errors.ts";
import { fromUtf8 } from "../crypto/index.ts";
import { ZERO_PREV, lineHash } from "./hash.ts";
import { lockOrRefuse, untrustedDirectory, untrustedFile } from "../os/file-trust.ts";

/** The hint printed under each refusal of the audit file or its directory. */
export const AUDIT_PATH_HINT =
  "keep the audit file in a directory that only you (or root) can write, e.g. mkdir -m 700 /var/log/hush, owned by the daemon's user; move a file you did not make aside";

const MAX_TAIL_SEARCH = 1 << 20;

/** The last seal line found near the end of the file: its fields (`keyId` in format 2 only). */
export interface LastSeal {
  seq: number;
  ts: number;
  epoch: number;
  prev: string;
  mac: string;
  keyId?: string;
}

export interface OpenedAuditFile {
  fd: number;
  lastSeq: number;
  prev: string;
  /** The last seal line in the last MiB of the file, if any. */
  lastSeal: LastSeal | null;
  warnings: string[];
}

/**
 * Open (or create, 0600) for appending, and lock it (flock, exclusive;
 * released when `fd` is closed). Throws HushError `invalid_request` for a
 * symlink, a non-regular file, a file or directory another user owns or can
 * write (src/os/file-trust.ts; `detail.hint` says what to do), or a file
 * whose last line is incomplete or not an audit line; `conflict` when
 * another process holds its lock (names its pid when it can).
 */
export function openAuditFile(path: string): OpenedAuditFile {
  const warnings: string[] = [];
  const fail = (msg: string, hint?: string): never => {
    throw new HushError("invalid_request", `audit file ${path}: ${msg}`, hint ? { hint } : {});
  };
  const dirProblem = untrustedDirectory(path);
  if (dirProblem) fail(dirProblem, AUDIT_PATH_HINT);
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) fail("is a symbolic link; refusing to follow it");
    if (!st.isFile()) fail("is not a regular file");
  } catch (e: any) {
    if (e instanceof HushError) throw e;
    if (e?.code !== "ENOENT") fail(`cannot inspect it (${e?.code ?? e})`);
  }
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
  } catch (e: any) {
    return fail(e?.code === "ELOOP" ? "is a symbolic link; refusing to follow it" : `cannot open it (${e?.code ?? e})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) fail("is not a regular file");
    const fileProblem = untrustedFile(st, "they could have forged its last lines");
    if (fileProblem) fail(fileProblem, AUDIT_PATH_HINT);
    lockOrRefuse(fd, path, "audit file", "--audit-file");
    if (st.mode & 0o077) {
      fchmodSync(fd, 0o600);
      warnings.push(`audit file ${path} had mode ${(st.mode & 0o777).toString(8)}; changed to 600`);
    }
    if (st.size === 0) return { fd, lastSeq: 0, prev: ZERO_PREV, lastSeal: null, warnings };
    const { last, lastSeal } = readTail(fd, st.size, fail);
    let seq: unknown;
    try {
      seq = JSON.parse(fromUtf8(last)).seq;
    } catch {}
    if (!Number.isSafeInteger(seq) || (seq as number) < 1) fail("its last line is not an audit line; refusing to append to it");
    return { fd, lastSeq: seq as number, prev: lineHash(last), lastSeal, warnings };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The bytes of the last line (without its newline), and the last seal line of the last MiB. */
function readTail(fd: number, size: number, fail: (msg: string) => never): { last: Uint8Array; lastSeal: LastSeal | null } {
  const n = Math.min(size, MAX_TAIL_SEARCH);
  const buf = Buffer.alloc(n);
  readSync(fd, buf, 0, n, size - n);
  if (buf[n - 1] !== 0x0a) fail("ends with an incomplete line (a crash or a full disk?); move it aside or repair it before appending");
  let end = n - 1;
  let nl = end > 0 ? buf.lastIndexOf(0x0a, end - 1) : -1;
  if (nl < 0 && n < size) fail("its last line is too long");
  const last = new Uint8Array(buf.subarray(nl + 1, end));
  let lastSeal: LastSeal | null = null;
  // Walk back line by line (complete lines only) to the last seal.
  while (lastSeal === null && (nl >= 0 || n === size)) {
    lastSeal = parseSeal(buf.subarray(nl + 1, end));
    if (nl < 0) break;
    end = nl;
    nl = end > 0 ? buf.lastIndexOf(0x0a, end - 1) : -1;
  }
  return { last, lastSeal };
}

const SEAL_MARK = Buffer.from('"type":"seal"');

function parseSeal(line: Buffer): LastSeal | null {
  if (line.indexOf(SEAL_MARK) < 0) return null;
  try {
    const o = JSON.parse(fromUtf8(line));
    if (o?.type !== "seal" || !Number.isSafeInteger(o.epoch) || !Number.isSafeInteger(o.seq)) return null;
    const str = (v: unknown) => (typeof v === "string" ? v : "");
    return { seq: o.seq, ts: Number.isSafeInteger(o.ts) ? o.ts : 0, epoch: o.epoch, prev: str(o.prev), mac: str(o.mac), keyId: typeof o.key_id === "string" ? o.key_id : undefined };
  } catch {
    return null;
  }
}
