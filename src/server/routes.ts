/**
 * The route table: every endpoint of PROTOCOL.md §8 as one row (method,
 * path pattern, role, handler), and the matcher the stages use.
 *
 * Roles say who may call a route and which stage serves it:
 *
 * | role     | who                                                     | served by                      |
 * | -------- | ------------------------------------------------------- | ------------------------------ |
 * | `public` | anyone, every listener, before the body is read         | `publicRoutes` (stages.ts)     |
 * | `join`   | a join token holder (the Noise handshake authenticates) | `join` (hush.sock, TCP)        |
 * | `self`   | any signed key, even while a rekey is required          | `route` (hush.sock, TCP)       |
 * | `any`    | any signed key, or admin.sock                           | `route`, `adminListener`       |
 * | `worker` | a signed worker key                                     | `route` (hush.sock, TCP)       |
 * | `admin`  | a signed admin key, or admin.sock                       | `route`, `adminListener`       |
 * | `owner`  | admin.sock only (a leaked admin key cannot mint more)   | `adminListener` (`route`: 403) |
 *
 * A pattern segment `:name` matches one segment; handlers decode it
 * (`decodeSegment`). A path that matches a row but not its method is
 * `invalid_request` ("method not allowed", there is no 405); a path that
 * matches no row is `not_found`. Rows group by *area* (`areaOf`: the
 * segment after `/v1/`, or `/metrics`), which also gives a path that
 * matches no row its role, so an unknown admin path is refused to a worker
 * key as `forbidden` before it is `not_found`.
 * @module
 */
import type { Answer } from "./http.ts";
import type { Ctx } from "./pipeline.ts";
import { health, ready } from "./routes-public.ts";
import { joinRoute } from "./routes-join.ts";
import { rekeyRoute } from "./rekey.ts";
import {
  kvClaim,
  kvClaimRelease,
  kvClaimRenew,
  kvDelete,
  kvGet,
  kvIncr,
  kvList,
  kvPut,
  kvTtl,
  lockAcquire,
  lockRelease,
  lockRenew,
  poolLease,
  poolRelease,
  poolRenew,
  whoami,
} from "./routes-worker.ts";
import { adminCredsDelete, adminCredsList, adminCredsPut, credCheckout, credReturn } from "./routes-creds.ts";
import { adminsCreate, adminsList, metricsText, stats, workerRevoke, workerRotate, workersIssue, workersList } from "./routes-admin.ts";
import { serverKeyList, serverKeyStage, tokenRevoke, tokenRotate, tokensCreate, tokensList } from "./routes-admin-keys.ts";
import { auditStream, routeAuditHash } from "./routes-audit.ts";
import { status } from "./routes-status.ts";

export type Role = "public" | "join" | "self" | "any" | "worker" | "admin" | "owner";
export type Handler = (c: Ctx) => Answer | Promise<Answer>;

export interface Route {
  method: "GET" | "PUT" | "POST" | "DELETE";
  /** `/v1/kv/:key/incr`: literal segments and `:name` parameters. */
  path: string;
  role: Role;
  handler: Handler;
  /**
   * Observation only (stats, metrics, the audit stream): does not count as
   * use for `--idle-timeout` (idle.ts), so a monitor or an `audit tail -f`
   * never keeps an unused daemon alive. Public rows never count.
   */
  passive?: true;
}

export const ROUTES: readonly Route[] = [
  { method: "GET", path: "/v1/health", role: "public", handler: health },
  { method: "GET", path: "/v1/ready", role: "public", handler: ready },
  { method: "POST", path: "/v1/join", role: "join", handler: joinRoute },

  { method: "POST", path: "/v1/rekey", role: "self", handler: rekeyRoute },
  { method: "GET", path: "/v1/whoami", role: "self", handler: whoami },
  { method: "GET", path: "/v1/status", role: "any", handler: status, passive: true },

  { method: "GET", path: "/v1/kv", role: "worker", handler: kvList },
  { method: "GET", path: "/v1/kv/:key", role: "worker", handler: kvGet },
  { method: "PUT", path: "/v1/kv/:key", role: "worker", handler: kvPut },
  { method: "DELETE", path: "/v1/kv/:key", role: "worker", handler: kvDelete },
  { method: "POST", path: "/v1/kv/:key/incr", role: "worker", handler: kvIncr },
  { method: "GET", path: "/v1/kv/:key/ttl", role: "worker", handler: kvTtl },
  { method: "POST", path: "/v1/kv/:key/claim", role: "worker", handler: kvClaim },
  { method: "POST", path: "/v1/kv/:key/claim/renew", role: "worker", handler: kvClaimRenew },
  { method: "POST", path: "/v1/kv/:key/claim/release", role: "worker", handler: kvClaimRelease },
  { method: "POST", path: "/v1/locks/:name", role: "worker", handler: lockAcquire },
  { method: "POST", path: "/v1/locks/:name/renew", role: "worker", handler: lockRenew },
  { method: "POST", path: "/v1/locks/:name/release", role: "worker", handler: lockRelease },
  { method: "POST", path: "/v1/pools/:name/lease", role: "worker", handler: poolLease },
  { method: "POST", path: "/v1/pools/:name/renew", role: "worker", handler: poolRenew },
  { method: "POST", path: "/v1/pools/:name/release", role: "worker", handler: poolRelease },
  { method: "POST", path: "/v1/creds/:name/checkout", role: "worker", handler: credCheckout },
  { method: "POST", path: "/v1/creds/leases/:lease/return", role: "worker", handler: credReturn },

  { method: "GET", path: "/v1/admin/workers", role: "admin", handler: workersList },
  { method: "POST", path: "/v1/admin/workers", role: "admin", handler: workersIssue },
  { method: "POST", path: "/v1/admin/workers/:id/revoke", role: "admin", handler: workerRevoke },
  { method: "POST", path: "/v1/admin/workers/:id/rotate", role: "admin", handler: workerRotate },
  { method: "GET", path: "/v1/admin/admins", role: "admin", handler: adminsList },
  { method: "POST", path: "/v1/admin/admins", role: "owner", handler: adminsCreate },
  { method: "GET", path: "/v1/admin/tokens", role: "admin", handler: tokensList },
  { method: "POST", path: "/v1/admin/tokens", role: "admin", handler: tokensCreate },
  { method: "POST", path: "/v1/admin/tokens/:id/revoke", role: "admin", handler: tokenRevoke },
  { method: "POST", path: "/v1/admin/tokens/:id/rotate", role: "admin", handler: tokenRotate },
  { method: "GET", path: "/v1/admin/server-key", role: "admin", handler: serverKeyList },
  { method: "POST", path: "/v1/admin/server-key/:stage", role: "admin", handler: serverKeyStage },
  { method: "GET", path: "/v1/admin/creds", role: "admin", handler: adminCredsList },
  { method: "POST", path: "/v1/admin/creds", role: "admin", handler: adminCredsPut },
  { method: "DELETE", path: "/v1/admin/creds/:name", role: "admin", handler: adminCredsDelete },
  { method: "GET", path: "/v1/admin/audit", role: "admin", handler: (c) => auditStream(c.st, c.search), passive: true },
  { method: "POST", path: "/v1/admin/audit/hash", role: "admin", handler: (c) => routeAuditHash(c.st, c.body) },
  { method: "GET", path: "/v1/admin/stats", role: "admin", handler: stats, passive: true },
  { method: "GET", path: "/metrics", role: "admin", handler: metricsText, passive: true },
];

/** A compiled row: its pattern split on "/", null for a parameter. */
export interface Row extends Route {
  segs: (string | null)[];
}

/** The rows of one area and the role a path in it has. */
export interface Area {
  role: Role;
  rows: Row[];
}

export type Table = Map<string, Area>;

/** The area of a path split on "/": the segment after `/v1/`, or `/x` for a path outside `/v1`. */
export function areaOf(parts: string[]): string {
  return parts[1] === "v1" ? (parts[2] ?? "") : "/" + parts[1];
}

/**
 * Compile the rows of the given roles into a lookup by area. An area's role
 * is its first row's (`owner` rows live in `admin` areas). Throws on a
 * pattern that two rows of the same method share (a table mistake).
 */
export function compileRoutes(routes: readonly Route[], roles: readonly Role[]): Table {
  const t: Table = new Map();
  const seen = new Set<string>();
  for (const r of routes) {
    if (!roles.includes(r.role)) continue;
    const segs = r.path.split("/").map((s) => (s.startsWith(":") ? null : s));
    const shape = r.method + " " + segs.map((s) => s ?? ":").join("/");
    if (seen.has(shape)) throw new Error(`route table: ${r.method} ${r.path} is listed twice`);
    seen.add(shape);
    const key = areaOf(segs as string[]);
    let a = t.get(key);
    if (!a) t.set(key, (a = { role: r.role === "owner" ? "admin" : r.role, rows: [] }));
    a.rows.push({ ...r, segs });
  }
  return t;
}

/** The row for this method and path; "method" when only the method is wrong; undefined when no row has this path. */
export function matchRoute(area: Area | undefined, parts: string[], method: string): Row | "method" | undefined {
  if (!area) return undefined;
  let pathOnly = false;
  next: for (const row of area.rows) {
    const segs = row.segs;
    if (segs.length !== parts.length) continue;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i];
      if (s !== null && s !== parts[i]) continue next;
    }
    if (row.method === method) return row;
    pathOnly = true;
  }
  return pathOnly ? "method" : undefined;
}
