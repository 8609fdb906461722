/**
 * Secret values for `kv set`, `creds put` and `audit hash`: from stdin or
 * `--value-file FILE`, never from the command line (where other users see
 * them in `ps`). An empty value is refused unless asked for: an empty stdin
 * (`< /dev/null`, a variable that was never set) is nearly always a mistake.
 *
 * The value must be UTF-8 text (values are JSON strings on the wire; other
 * bytes would be stored changed), and a value piped in while --value-file
 * names another is refused rather than ignored.
 *
 * `--value-file` is opened once, without following a FIFO or a device: the
 * descriptor is checked with fstat (a regular file, at most MAX_FILE_BYTES)
 * before a byte is read, so nothing can swap it between check and read.
 * Symbolic links are followed (mounted secrets, e.g. Kubernetes volumes, are
 * links). A file that another user owns or can write (or replace through a
 * directory) is refused (src/os/file-trust.ts); one others can read gets a
 * warning.
 * @module
 */
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from "node:fs";
import { HushError } from "../src/errors.ts";
import { hint, readStdin } from "./_shared.ts";
import { checkTrustedFile } from "../src/os/file-trust.ts";
import { stdinHasInput } from "../src/os/stdin.ts";
import { fileError } from "./_files.ts";

/** Larger files are refused before they are read (the daemon's default body limit is 1 MiB). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

export const valueFileArg = {
  "value-file": {
    type: "string",
    description: "read the value from FILE instead of stdin (one trailing newline is dropped)",
    valueHint: "FILE",
  },
} as const;

export const allowEmptyArg = {
  "allow-empty": { type: "boolean", description: "accept an empty value (refused by default: an empty stdin is usually a mistake)" },
} as const;

function readFileSafely(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOCTTY | fsc.O_NONBLOCK);
  } catch (e: any) {
    throw fileError(e, "read", "--value-file", path);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new HushError("invalid_request", `--value-file ${path} is not a regular file`);
    if (st.size > MAX_FILE_BYTES) throw new HushError("too_large", `--value-file ${path} is larger than ${MAX_FILE_BYTES >> 20} MiB`);
    const warnings = checkTrustedFile(path, st, { what: "--value-file", risk: "they could have chosen the value", readable: "warn" });
    for (const w of warnings) hint(w, "warning");
    const buf = new Uint8Array(st.size);
    let off = 0;
    for (let n; off < buf.length && (n = readSync(fd, buf, off, buf.length - off, null)) > 0; ) off += n;
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/**
 * The value for command `name` (e.g. "kv set"): the text of --value-file or
 * of stdin, one trailing newline dropped. Throws `invalid_request` (exit 2)
 * for a terminal on stdin, an unreadable file, or an empty value without
 * `allowEmpty` (`null`: the command has no --allow-empty; empty is never
 * valid). The raw bytes are zero-filled after decoding.
 */
export async function readValue(name: string, file: string | undefined, allowEmpty: boolean | null): Promise<string> {
  if (!file && process.stdin.isTTY) {
    throw new HushError("invalid_request", `hush ${name} reads the value from stdin or --value-file`, {
      hint: `pipe it in: printf %s "$VALUE" | hush ${name} …`,
    });
  }
  if (file && stdinHasInput()) {
    throw new HushError("invalid_request", `a value came on stdin as well as from --value-file ${file}; hush reads only one`, {
      hint: `leave out --value-file to store what is piped in, or stop piping into hush ${name}`,
    });
  }
  const raw = file ? readFileSafely(file) : await readStdin();
  let text: string;
  try {
    // Values are text (JSON strings on the wire): bytes that are not UTF-8 would be replaced by U+FFFD.
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw new HushError("invalid_request", `the value is not UTF-8 text (${file ? `--value-file ${file}` : "stdin"}); hush stores text or JSON, and would have changed it`, {
      hint: `encode binary data as text first, e.g. base64 ${file ?? "< FILE"} | hush ${name} …`,
    });
  } finally {
    raw.fill(0);
  }
  if (text.endsWith("\n")) text = text.slice(0, text.endsWith("\r\n") ? -2 : -1);
  if (text === "" && !allowEmpty) {
    throw new HushError("invalid_request", `the value is empty (${file ? `--value-file ${file} is empty` : "nothing came on stdin"})`, {
      hint: `pipe the value in (printf %s "$VALUE" | hush ${name} …) or use --value-file FILE${allowEmpty === null ? "" : "; pass --allow-empty if an empty value is what you mean"}`,
    });
  }
  return text;
}
