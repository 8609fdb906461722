/**
 * `hush serve --backend URL` (docs/CLUSTER.md §1): `redis://HOST:PORT`,
 * `rediss://HOST:PORT` (TLS) or `redis+unix://localhost/PATH` (or
 * `redis+unix:///PATH`), with an optional user name. A password in the URL
 * is refused: argv is readable by every local user (invariant 3); it comes
 * from a file or the environment and is put into the client's URL in memory.
 * @module
 */
import { HushError } from "../errors.ts";

export interface BackendTarget {
  scheme: "redis" | "rediss" | "redis+unix";
  /** `host:port` (brackets kept for IPv6), or the socket path. */
  address: string;
  user?: string;
  /** The URL as shown in logs and errors: no password, ever. */
  shown: string;
}

/** Parse and check a `--backend` URL. @throws HushError `invalid_request`, naming the flag. */
export function parseBackendUrl(raw: string): BackendTarget {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new HushError("invalid_request", "--backend: not a URL (expected redis://HOST:PORT, rediss://HOST:PORT or redis+unix:///PATH)");
  }
  if (u.password) throw new HushError("invalid_request", "--backend: a password in the URL would be visible to every local user; use --backend-password-file or $HUSH_BACKEND_PASSWORD");
  const scheme = u.protocol.slice(0, -1);
  const user = u.username ? decodeURIComponent(u.username) : undefined;
  if (u.search || u.hash) throw new HushError("invalid_request", "--backend: no query or fragment");
  if (scheme === "redis" || scheme === "rediss") {
    if (!u.hostname || (u.pathname !== "" && u.pathname !== "/")) throw new HushError("invalid_request", `--backend: expected ${scheme}://HOST:PORT`);
    const address = `${u.hostname}:${u.port || "6379"}`;
    return { scheme, address, user, shown: `${scheme}://${user ? user + "@" : ""}${address}` };
  }
  if (scheme === "redis+unix") {
    if (u.hostname && u.hostname !== "localhost") throw new HushError("invalid_request", "--backend: expected redis+unix:///PATH or redis+unix://USER@localhost/PATH");
    if (!u.pathname || u.pathname === "/") throw new HushError("invalid_request", "--backend: the unix socket path is missing");
    const address = decodeURIComponent(u.pathname);
    return { scheme, address, user, shown: `redis+unix://${user ? user + "@localhost" : ""}${address}` };
  }
  throw new HushError("invalid_request", "--backend: the URL must start with redis://, rediss:// or redis+unix://");
}

/** The URL Bun.RedisClient is given: credentials percent-encoded (a unix URL needs the host part to carry them). */
export function backendClientUrl(t: BackendTarget, password?: string): string {
  const auth = t.user !== undefined || password !== undefined ? `${encodeURIComponent(t.user ?? "")}${password !== undefined ? ":" + encodeURIComponent(password) : ""}@` : "";
  if (t.scheme === "redis+unix") return auth ? `redis+unix://${auth}localhost${t.address}` : `redis+unix://${t.address}`;
  return `${t.scheme}://${auth}${t.address}`;
}
