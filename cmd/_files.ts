/**
 * File errors in the user's words: which file (by the flag that named it),
 * what is wrong with it, and what to do, instead of a bare errno
 * (`cannot create /x/y.cred: ENOENT`).
 *
 * A "file name" that looks like a hush key string (`HUSH-JOIN-1…`) is the
 * secret itself, pasted where a file name belongs: it is never quoted back.
 * @module
 */
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { HushError } from "../src/errors.ts";

/** Does `s` look like a hush key string (a secret or a public key), not a file name? */
export function looksLikeKeyString(s: string): boolean {
  return /^\s*(HUSH-[A-Z]+(-[A-Z]+)*-1|hushpub1|hushaudit1)/i.test(s);
}

/** `path` as it may be shown: never a pasted key string. */
function shown(path: string): string {
  return looksLikeKeyString(path) ? "(not shown: it looks like a key string, not a file name)" : path;
}

/**
 * The error for `e`, thrown by reading (`read`) or exclusively creating
 * (`create`) the file `what` names (a flag, e.g. `--out`, or words such as
 * "credential file"). EEXIST on create is `conflict` (exit 4); everything
 * else is `invalid_request` (exit 2).
 */
export function fileError(e: any, action: "read" | "create", what: string, path: string): HushError {
  const code: string = e?.code ?? "";
  const p = shown(path);
  if (looksLikeKeyString(path)) {
    return new HushError("invalid_request", `${what} takes a file name, and this looks like a key string itself`, {
      hint: "secrets never go on the command line (others can see it in ps): put it in a file (mode 0600) and name that file; treat this one as exposed",
    });
  }
  const dir = dirname(path);
  switch (code) {
    case "ENOENT":
      if (action === "create") {
        return new HushError("invalid_request", `cannot create ${what} ${p}: the directory ${dir} does not exist`, { hint: `create it first: mkdir -p -m 0700 ${dir}` });
      }
      return new HushError("invalid_request", `${what} ${p} does not exist`, { hint: `check the path (relative paths start at ${process.cwd()})` });
    case "EEXIST":
      return new HushError("conflict", `${what} ${p} already exists; hush never overwrites a file it writes a secret to`, {
        hint: "choose another file name, or remove the old file first if nothing needs it any more",
      });
    case "EISDIR":
      return new HushError("invalid_request", `${what} ${p} is a directory`, { hint: action === "create" ? `name a file inside it, e.g. ${path.replace(/\/$/, "")}/NAME` : "name the file inside it" });
    case "ENOTDIR":
      return new HushError("invalid_request", `${what} ${p}: a part of the path before the last / is not a directory`);
    case "ELOOP":
      return new HushError("invalid_request", `${what} ${p} is a symbolic link; hush does not write a secret through one`, { hint: "name the file itself, not a link to it" });
    case "EACCES":
    case "EPERM":
      return new HushError("invalid_request", `permission denied: cannot ${action} ${what} ${p}`, {
        hint: action === "create" ? `you cannot create files in ${dir} (ls -ld ${dir})` : `check the file's permissions and its directory's (ls -l ${p})`,
      });
    case "EROFS":
      return new HushError("invalid_request", `cannot create ${what} ${p}: the file system is read-only`);
    case "ENOSPC":
      return new HushError("invalid_request", `cannot create ${what} ${p}: no space left on the device`);
    default:
      return new HushError("invalid_request", `cannot ${action} ${what} ${p} (${code || e?.message || e})`);
  }
}

/** Is `path` a regular file? (false when it does not exist or cannot be looked at) */
export function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Is `path` a directory? (false when it does not exist or cannot be looked at) */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
