/**
 * Option and result types of the SDK's public calls (client.ts), camelCase
 * like everything the SDK returns; docs/SDK.md explains each.
 * @module
 */
import type { CallOptions, WaitOptions } from "./wait.ts";
import type { CompressOption } from "./compress.ts";

/** Options of `lock` and `withLock`. */
export interface LockOptions extends CallOptions {
  /** Lease time of the lock, in ms (required: a lock always expires). */
  ttlMs: number;
  /** A label recorded with the lock (informational). */
  holder?: string | undefined;
  /** Wait while someone else holds it (without: one try, `conflict` at once). */
  wait?: WaitOptions | undefined;
}

/** Options of `lease`. */
export interface LeaseOptions extends CallOptions {
  /** The pool's number of slots (fixed by its first lease). */
  size: number;
  ttlMs: number;
  /** The same holder (with the same credential) gets the same slot back. */
  holder?: string | undefined;
  /** The pool keeps one slot per holder name, whoever asks (fixed by its first lease; needs `holder`). */
  onePerHolder?: boolean | undefined;
  /** Wait while every slot is taken. */
  wait?: WaitOptions | undefined;
}

/** Options of `set`. */
export interface SetOptions extends CallOptions {
  /** TTL in ms (absent: a live key keeps its expiry; a new key gets the daemon's default, or `ttl_required`). 0 is refused. */
  ttlMs?: number | undefined;
  /** Write only when no live key exists; `written: false` otherwise. */
  ifAbsent?: boolean | undefined;
  /** Reads push the expiry out by the TTL (capped at 30 days after this write). */
  slide?: boolean | undefined;
}

/** What `whoami` says about this client's key. */
export interface WhoAmI {
  id: string;
  name: string;
  kind: "worker" | "admin";
  tags: string[];
  expiresAt: number;
  rekeyRequired: boolean;
  /** The server's active public key (`hushpub1…`). */
  serverPublic: string;
}

/** What `status` says about the daemon (PROTOCOL.md §8, "Status"); sizes in bytes, times in ms. */
export interface Status {
  /** `ok`, `degraded` (the audit file cannot be written: checkouts and admin changes are refused) or `draining` (stopping). */
  status: "ok" | "degraded" | "draining";
  version: string;
  uptimeMs: number;
  draining: boolean;
  degraded: boolean;
  audit: "ok" | "failing" | "off";
  memory: { rssBytes: number; heapUsedBytes: number };
  items: { used: number; limit: number };
  /** `used` is null on a daemon whose state is in Redis (`hush serve --backend`): not counted there. */
  bytes: { used: number | null; limit: number };
  inFlight: { used: number; limit: number };
}

/** The camelCase form of a `GET /v1/status` answer. */
export function toStatus(r: any): Status {
  return {
    status: r.status,
    version: r.version,
    uptimeMs: r.uptime_ms,
    draining: r.draining,
    degraded: r.degraded,
    audit: r.audit,
    memory: { rssBytes: r.memory.rss_bytes, heapUsedBytes: r.memory.heap_used_bytes },
    items: r.items,
    bytes: r.bytes,
    inFlight: r.in_flight,
  };
}

/** How requests travel: WebSocket messages (the default) or one HTTP request per call. */
export type TransportKind = "ws" | "http";

/** Options of `new Client` (client.ts); connect.ts reads the address ones. */
export interface ClientOptions {
  /** Path of hush.sock. Default: HUSH_SOCKET, then the daemon's default path. */
  socket?: string;
  /**
   * The user (name or uid) that must own the socket and its directory, for a
   * daemon run by another user (a service user with `--socket-group`).
   * Default: HUSH_SOCKET_OWNER, else this process's uid. A socket that fails
   * the check gets no request at all (HushError `auth_failed`).
   */
  socketOwner?: string | number;
  /**
   * A controller URL (`https://HOST:PORT`) instead of a socket, or several
   * daemons of a cluster, comma-separated, tried in order
   * (`https://a:8443,https://b:8443`; also `http://127.0.0.1:PORT` and
   * `unix:/PATH/hush.sock`). Default: HUSH_URL, else (with no `socket` and
   * no HUSH_SOCKET) the `# addresses:` line of a whole credential file.
   * Every https address is pinned with the same TLS pin. The next address
   * is tried only when a request could not be sent (PROTOCOL.md §2,
   * "Daemon addresses"); one that may have reached a daemon fails with
   * HushError `unavailable`, `detail.sent: true`.
   */
  url?: string;
  /** Override the pin (`sha256//BASE64`), e.g. after the controller's TLS key changed. */
  tlsPin?: string;
  /** A `HUSH-WORKER-1…` string. Default: HUSH_CREDENTIAL. */
  credential?: string;
  /**
   * `"ws"` (the default): signed requests as messages on a WebSocket
   * connection shared by concurrent calls (PROTOCOL.md §3.6); `"http"`: one
   * HTTP request per call. Default: HUSH_TRANSPORT, else `"ws"`.
   */
  transport?: TransportKind;
  /**
   * WebSocket connections shared by this client's calls. Default 2 on a unix
   * socket: the second opens only when a call starts while another is in
   * flight, so a sequential caller holds one; with two, the daemon works on
   * one connection's requests while the client reads the other's answers
   * (about 1.5× the calls/s at 32 in flight, docs/PERFORMANCE.md). Default 1
   * over TCP (TLS), where the daemon caps connections per source address
   * (`--ws-max-connections-source`) and many workers on one host share it.
   */
  connections?: number;
  /** Retries of a request that never reached the daemon (with several addresses: rounds over all of them). Default 5. */
  retries?: number;
  timeoutMs?: number;
  /**
   * Rotate the key by itself: at half of its lifetime and when the daemon
   * answers rekey_required. Default: true when `credential` is given, false
   * when it comes from HUSH_CREDENTIAL (which many processes may share: one
   * credential must be rotated by one process only).
   */
  autoRekey?: boolean;
  /** Called with the new credential string after every rekey (e.g. to save it). */
  onRekey?: (credential: string) => void;
  /**
   * Send request bodies of 1 KiB or more compressed: `"gzip"`, `"zstd"` or
   * `{ coding, thresholdBytes, maxRatio }` (compress.ts). Default false: why, in compress.ts.
   */
  compress?: CompressOption;
}
