/**
 * Daemon address lists (PROTOCOL.md §2, "Daemon addresses"; docs/CLUSTER.md
 * §10): `HUSH_URL`, the SDK's `url` option, the CLI's `--url`, and the
 * `# addresses:` line of a join token or credential file may name several
 * daemons of one cluster, comma-separated, in the order to try them.
 *
 * An address is `https://HOST:PORT` (TLS, pinned), `http://HOST:PORT` (a
 * loopback address only, checked where the transport is made) or
 * `unix:PATH` (a daemon's hush.sock on this host; PATH absolute). Nothing
 * may follow HOST:PORT: requests go to fixed paths, so a path, query or user
 * name would be dropped without a word.
 * @module
 */
import { HushError } from "../errors.ts";

/** One daemon address, parsed. `text` is its canonical form (what `formatAddresses` writes). */
export type Address = { kind: "unix"; path: string; text: string } | { kind: "https" | "http"; url: string; host: string; text: string };

/** Most addresses in one list (a cluster is a few daemons; a longer list is a mistake). */
export const MAX_ADDRESSES = 16;

/**
 * Parse one address. Throws HushError `invalid_request` naming `from` (a
 * flag, a variable or a file) for anything that is not one of the three
 * forms above.
 */
export function parseAddress(text: string, from: string): Address {
  const s = text.trim();
  if (s.startsWith("unix:")) {
    const path = s.slice(5);
    if (!path.startsWith("/")) throw new HushError("invalid_request", `${from}: a unix address is unix:/ABSOLUTE/PATH/hush.sock, got ${JSON.stringify(s)}`);
    return { kind: "unix", path, text: s };
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new HushError("invalid_request", `${from}: not a URL: ${JSON.stringify(s)} (expected https://HOST:PORT, http://127.0.0.1:PORT or unix:/PATH)`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw new HushError("invalid_request", `${from}: the URL must start with https:// (or http:// to a loopback address, or unix:/PATH): ${u.protocol}//${u.host}`);
  }
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash || u.username || u.password) {
    throw new HushError("invalid_request", `${from}: the URL must be only ${u.protocol}//HOST:PORT, without a path, query or user name: ${u.protocol}//${u.host}`);
  }
  const origin = `${u.protocol}//${u.host}`;
  return { kind: u.protocol === "https:" ? "https" : "http", url: origin, host: u.host, text: origin };
}

/**
 * Parse a comma-separated list (spaces around commas allowed). Throws
 * HushError `invalid_request` for an empty list or entry, more than
 * `MAX_ADDRESSES`, or the same daemon named twice.
 */
export function parseAddresses(list: string, from: string): Address[] {
  const parts = list.split(",").map((p) => p.trim());
  if (parts.some((p) => p === "")) throw new HushError("invalid_request", `${from}: an empty address in the list (addresses are separated by single commas)`);
  if (parts.length > MAX_ADDRESSES) throw new HushError("invalid_request", `${from}: ${parts.length} addresses; at most ${MAX_ADDRESSES}`);
  const out = parts.map((p) => parseAddress(p, from));
  const seen = new Set<string>();
  for (const a of out) {
    if (seen.has(a.text)) throw new HushError("invalid_request", `${from}: ${a.text} is named twice`);
    seen.add(a.text);
  }
  return out;
}

/** The canonical list: addresses joined by commas. */
export function formatAddresses(addresses: readonly Address[]): string {
  return addresses.map((a) => a.text).join(",");
}

/** How an address is named in messages. */
export function describeAddress(a: Address): string {
  return a.kind === "unix" ? `the hush daemon at ${a.path}` : `the hush controller at ${a.host}`;
}
