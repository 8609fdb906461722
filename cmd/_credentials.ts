/**
 * The CLI's secrets of identity: the worker credential (`--credential-file`,
 * `$HUSH_CREDENTIAL`), the admin credential (`--admin-credential-file`,
 * `$HUSH_ADMIN_CREDENTIAL`) and the join token (`--token-file`,
 * `$HUSH_JOIN_TOKEN`), from files or the environment, never argv.
 *
 * A key string of another kind where one is expected (a join token in
 * `$HUSH_CREDENTIAL`, an admin credential for `hush kv`) is named by its
 * kind, with where it belongs. An admin credential on the worker routes, or
 * a worker credential on the admin routes, is refused before anything is
 * sent with the code the daemon would answer (`forbidden`, exit 5). No
 * message quotes the secret.
 * @module
 */
import { accessSync, existsSync, constants as fsc } from "node:fs";
import { HushError } from "../src/errors.ts";
import { parseKeyFile } from "../src/keys/index.ts";
import { readTrustedFile, type Readable } from "../src/os/file-trust.ts";
import { fileError, isDirectory } from "./_files.ts";
import { hint } from "./_shared.ts";

/** The key strings a user may hold, by prefix: what each is and where it belongs. */
export const KEY_KINDS = {
  worker: { prefix: "HUSH-WORKER-1", name: "a worker credential", belongs: "it belongs in HUSH_CREDENTIAL or --credential-file FILE, for worker commands (kv, lock, pool, checkout)" },
  admin: { prefix: "HUSH-ADMIN-1", name: "an admin credential", belongs: "it belongs in HUSH_ADMIN_CREDENTIAL or --admin-credential-file FILE, for admin commands (workers, token, creds, rotate, stats, audit tail)" },
  join: { prefix: "HUSH-JOIN-1", name: "a join token", belongs: "`hush join` turns it into a worker credential: hush join --token-file FILE --out worker.cred (or HUSH_JOIN_TOKEN)" },
  server: { prefix: "HUSH-SERVER-KEY-1", name: "the daemon's server key", belongs: "it belongs to `hush serve` only (--server-key-file or HUSH_SERVER_KEY); keep it off workers" },
  serverPublic: { prefix: "hushpub1", name: "a server public key", belongs: "it only names a daemon; it is no credential" },
  auditVerify: { prefix: "HUSH-AUDIT-VERIFY-1", name: "the audit verification key", belongs: "it belongs to `hush audit verify --key-file`, off the daemon's host" },
  auditState: { prefix: "HUSH-AUDIT-STATE-1", name: "the audit sealing state", belongs: "it belongs to `hush serve --audit-state-file`" },
  auditKey: { prefix: "HUSH-AUDIT-KEY-1", name: "a format-1 audit key", belongs: "it belongs to `hush audit verify --key-file`" },
  auditPublic: { prefix: "hushaudit1", name: "a format-1 audit public key", belongs: "it is no credential" },
} as const;

export type KeyKind = keyof typeof KEY_KINDS;

/** The kind of the key string in `text` (its first line that is not a `#` comment), if it is one. */
export function keyKindOf(text: string): KeyKind | undefined {
  const s = parseKeyFile(text).toUpperCase();
  // Longest prefixes first: HUSH-AUDIT-VERIFY-1 before HUSH-AUDIT-…
  const kinds = (Object.keys(KEY_KINDS) as KeyKind[]).sort((a, b) => KEY_KINDS[b].prefix.length - KEY_KINDS[a].prefix.length);
  return kinds.find((k) => s.startsWith(KEY_KINDS[k].prefix.toUpperCase()));
}

/** What to read a key from: a file flag and an environment variable. */
interface KeySource {
  want: "worker" | "admin" | "join";
  flag: string;
  env: string;
  /** What another user who could write the file could have done (src/os/file-trust.ts). */
  risk: string;
}

const WORKER: KeySource = { want: "worker", flag: "--credential-file", env: "HUSH_CREDENTIAL", risk: "they could have chosen which worker you act as" };
const ADMIN: KeySource = { want: "admin", flag: "--admin-credential-file", env: "HUSH_ADMIN_CREDENTIAL", risk: "they could have chosen the admin key you sign with" };
const JOIN: KeySource = { want: "join", flag: "--token-file", env: "HUSH_JOIN_TOKEN", risk: "they could have chosen the token you join with" };

/**
 * The text of a file that holds a secret or policy (src/os/file-trust.ts):
 * refused (`invalid_request`, naming `flag`) when another user owns it, can
 * write it or can replace it — `risk` says what they could have done; when
 * others can read it, a warning (`readable` "warn", for CLI inputs) or a
 * refusal ("refuse", for the daemon's secrets at start). A file that cannot
 * be opened is named in the user's words (cmd/_files.ts).
 */
export function readSecretFile(file: string, flag: string, risk: string, readable: Readable = "warn"): string {
  try {
    // Only for the message: the read below opens it again and checks it.
    accessSync(file, fsc.R_OK);
    if (isDirectory(file)) throw Object.assign(new Error("EISDIR"), { code: "EISDIR" });
  } catch (e) {
    throw fileError(e, "read", flag, file);
  }
  const { bytes, warnings } = readTrustedFile(file, { what: flag, risk, readable });
  for (const w of warnings) hint(w, "warning");
  const text = new TextDecoder().decode(bytes);
  bytes.fill(0);
  return text;
}

/** Check that `text`, from `where` (a file or a variable), is the kind of key `src` wants. */
function checkKind(text: string, where: string, src: KeySource): string {
  const kind = keyKindOf(text);
  if (kind === src.want) return text;
  const wanted = KEY_KINDS[src.want];
  if (kind !== undefined) {
    const found = KEY_KINDS[kind];
    // The daemon answers forbidden to the other role's key; so does the CLI, before sending it.
    const crossRole = (src.want === "worker" && kind === "admin") || (src.want === "admin" && kind === "worker");
    const why = crossRole ? (kind === "admin" ? ": admin credentials cannot use the worker routes" : ": worker credentials cannot use the admin routes") : "";
    throw new HushError(crossRole ? "forbidden" : "invalid_request", `${where} holds ${found.name} (${found.prefix}…), not ${wanted.name} (${wanted.prefix}…)${why}`, { hint: found.belongs });
  }
  return "";
}

/** A key string from an environment variable; a value that names a file gets a hint to pass the flag. */
function fromEnv(value: string, src: KeySource): string {
  if (checkKind(value, src.env, src)) return value;
  const isFile = /^[\w.\/~+-]{1,1024}$/.test(value) && (/[./]/.test(value) || existsSync(value));
  throw new HushError("invalid_request", `${src.env} is not a ${KEY_KINDS[src.want].prefix}… string (${KEY_KINDS[src.want].name})`, {
    hint: isFile
      ? `that looks like a file name: pass ${src.flag} ${value}, or set ${src.env}="$(cat ${value})"`
      : `set ${src.env} to the string itself (the whole key file also works), or pass ${src.flag} FILE`,
  });
}

/** A key string from a file. */
function fromFile(file: string, src: KeySource): string {
  const text = readSecretFile(file, src.flag, src.risk);
  if (checkKind(text, `${src.flag} ${file}`, src)) return text;
  throw new HushError("invalid_request", `${src.flag} ${file} does not hold ${KEY_KINDS[src.want].name} (${KEY_KINDS[src.want].prefix}…)`, {
    hint: `it should be the file written by ${src.want === "worker" ? "`hush workers issue --out` or `hush join --out`" : src.want === "admin" ? "`hush keygen admin --out`" : "`hush token create --out`"}`,
  });
}

/** The key from `file` if given, else from the variable; undefined when neither is set. */
function readKey(file: string | undefined, src: KeySource): string | undefined {
  if (file) return fromFile(file, src);
  const env = process.env[src.env];
  return env ? fromEnv(env, src) : undefined;
}

/**
 * The worker credential's text (a whole key file, or the bare string) and
 * where it came from, from --credential-file or HUSH_CREDENTIAL. Throws
 * HushError `invalid_request` when neither is set.
 */
export function loadWorkerKey(file: string | undefined): { text: string; from: string } {
  const c = readKey(file, WORKER);
  if (c === undefined) throw new HushError("invalid_request", "no credential given");
  return { text: c, from: file ? `--credential-file ${file}` : "$HUSH_CREDENTIAL" };
}

/**
 * The key whose `# addresses:` line and TLS pin `hush health` follows: the
 * worker credential (--credential-file, HUSH_CREDENTIAL), else the admin
 * credential (HUSH_ADMIN_CREDENTIAL); undefined for none (health needs no key).
 */
export function readHealthKey(file: string | undefined): { text: string; from: string } | undefined {
  const w = readKey(file, WORKER);
  if (w !== undefined) return { text: w, from: file ? `--credential-file ${file}` : "$HUSH_CREDENTIAL" };
  const a = readKey(undefined, ADMIN);
  return a === undefined ? undefined : { text: a, from: "$HUSH_ADMIN_CREDENTIAL" };
}

/** The worker credential string, from --credential-file or HUSH_CREDENTIAL. */
export function loadCredential(file: string | undefined): string {
  return parseKeyFile(loadWorkerKey(file).text);
}

/** The admin credential's text, from --admin-credential-file or HUSH_ADMIN_CREDENTIAL; undefined for neither. */
export function readAdminCredential(args: { "admin-credential-file"?: string }): string | undefined {
  return readKey(args["admin-credential-file"], ADMIN);
}

/** The join token's text, from --token-file or HUSH_JOIN_TOKEN; "" for neither. */
export function readJoinToken(file: string | undefined): string {
  return readKey(file, JOIN) ?? "";
}
