/**
 * Worker routes (PROTOCOL.md §8): KV, counters, locks, pools, whoami.
 * Each route turns a parsed request into a store call and a JSON answer.
 * @module
 */
import { HushError } from "../errors.ts";
import { fromUtf8, utf8, wipe } from "../crypto/index.ts";
import type { MemoryStore } from "../broker/index.ts";
import type { KeyRecord } from "../broker/index.ts";
import { encodeServerPublic } from "../keys/index.ts";
import { type Answer, decodeSegment, ok, optInt, optString, optTtl, parseObject, reqInt } from "./http.ts";

export interface WorkerContext {
  store: MemoryStore;
  key: KeyRecord;
  /** The server's active public key (a rekeying worker addresses it). */
  serverPublic: Uint8Array;
}

const NOT_FOUND_ROUTE = new HushError("not_found", "no such route");

function methodNotAllowed(): never {
  throw new HushError("invalid_request", "method not allowed on this route");
}

/** Route a verified worker request. `parts` = pathname split on "/" (parts[0] = "", parts[1] = "v1"). */
export function routeWorker(ctx: WorkerContext, method: string, parts: string[], search: string, body: Uint8Array): Answer {
  const area = parts[2];
  if (area === "kv") return routeKv(ctx, method, parts, search, body);
  if (area === "locks") return routeLocks(ctx, method, parts, body);
  if (area === "pools") return routePools(ctx, method, parts, body);
  if (area === "whoami" && parts.length === 3) {
    if (method !== "GET") methodNotAllowed();
    const k = ctx.key;
    return ok({
      id: k.id,
      name: k.name,
      kind: k.kind,
      tags: k.tags,
      expires_at: k.expiresAt,
      rekey_required: k.rekeyRequired,
      server_public: encodeServerPublic(ctx.serverPublic),
    });
  }
  throw NOT_FOUND_ROUTE;
}

function routeKv(ctx: WorkerContext, method: string, parts: string[], search: string, body: Uint8Array): Answer {
  const { store } = ctx;
  if (parts.length === 3) {
    if (method !== "GET") methodNotAllowed();
    const q = new URLSearchParams(search);
    const limit = q.get("limit");
    if (limit !== null && !/^[1-9][0-9]{0,8}$/.test(limit)) throw new HushError("invalid_request", "limit must be a positive integer");
    // The key pays for what it lists from its listing budget (--list-rate).
    return ok(store.listPage(q.get("prefix") ?? "", { limit: limit === null ? undefined : Number(limit), cursor: q.get("cursor") ?? undefined, owner: ctx.key.id }));
  }
  if (parts.length === 4) {
    if (method !== "GET" && method !== "PUT" && method !== "DELETE") methodNotAllowed();
    const key = decodeSegment(parts[3], "key");
    if (method === "GET") {
      const r = store.get(key);
      // Splice the stored JSON bytes straight into the answer: no re-serialising.
      return { status: 200, body: `{"value":${fromUtf8(r.valueJson)},"expires_at":${r.expires_at}}` };
    }
    if (method === "PUT") {
      const b = parseObject(body);
      if (!("value" in b) || b.value === undefined) throw new HushError("invalid_request", "value is required");
      const ttl = optTtl(b);
      const json = utf8(JSON.stringify(b.value));
      try {
        return ok(store.set(key, json, ttl));
      } catch (e) {
        wipe(json);
        throw e;
      }
    }
    return ok(store.del(key));
  }
  if (parts.length === 5 && parts[4] === "incr") {
    if (method !== "POST") methodNotAllowed();
    const key = decodeSegment(parts[3], "key");
    const b = parseObject(body);
    return ok(store.incr(key, optInt(b, "by") ?? 1, optTtl(b)));
  }
  throw NOT_FOUND_ROUTE;
}

function routeLocks(ctx: WorkerContext, method: string, parts: string[], body: Uint8Array): Answer {
  const op = parts[4];
  if (parts.length < 4 || parts.length > 5 || (op !== undefined && op !== "renew" && op !== "release")) throw NOT_FOUND_ROUTE;
  if (method !== "POST") methodNotAllowed();
  const name = decodeSegment(parts[3], "lock name");
  const b = parseObject(body);
  // A lock answers only to the key that took it (its id is the owner).
  const owner = ctx.key.id;
  if (op === undefined) return ok(ctx.store.acquireLock(name, optTtl(b), optString(b, "holder"), owner));
  if (op === "renew") return ok(ctx.store.renewLock(name, reqInt(b, "token"), optTtl(b), owner));
  return ok(ctx.store.releaseLock(name, reqInt(b, "token"), owner));
}

function routePools(ctx: WorkerContext, method: string, parts: string[], body: Uint8Array): Answer {
  if (parts.length !== 5 || (parts[4] !== "lease" && parts[4] !== "release")) throw NOT_FOUND_ROUTE;
  if (method !== "POST") methodNotAllowed();
  const name = decodeSegment(parts[3], "pool name");
  const b = parseObject(body);
  if (parts[4] === "lease") {
    return ok(ctx.store.leasePool(name, reqInt(b, "size"), optTtl(b), optString(b, "holder"), ctx.key.id));
  }
  return ok(ctx.store.releasePool(name, reqInt(b, "token"), ctx.key.id));
}
