/**
 * Admin routes (`/v1/admin/…`, PROTOCOL.md §8), reached through the
 * owner-only admin socket. Secrets (a new credential) are shown once, in the
 * answer to the request that made them, and never logged.
 * @module
 */
import { HushError } from "../errors.ts";
import { encodeCredential } from "../keys/index.ts";
import type { State } from "./state.ts";
import { type Answer, decodeSegment, ok, optInt, parseObject } from "./http.ts";

export function routeAdmin(st: State, method: string, parts: string[], body: Uint8Array): Answer {
  const area = parts[3];
  if (area === "workers") return routeWorkers(st, method, parts, body);
  if (area === "stats" && parts.length === 4 && method === "GET") return ok(collectStats(st));
  throw new HushError("not_found", "no such route");
}

function routeWorkers(st: State, method: string, parts: string[], body: Uint8Array): Answer {
  if (parts.length === 4) {
    if (method === "GET") return ok({ workers: st.registry.list() });
    if (method === "POST") {
      const b = parseObject(body);
      const rec = st.registry.create({ kind: "worker", name: b.name, tags: b.tags, ttlMs: optInt(b, "ttl_ms"), via: "issue" });
      const credential = encodeCredential({
        kind: "worker",
        keyId: rec.id,
        macKey: rec.macKey,
        encKey: rec.encKey,
        serverPublic: st.serverKey.publicKey,
        tlsPin: st.tlsPin,
      });
      st.masker.add(credential);
      st.log.info("worker key issued", { worker: rec.id, name: rec.name, via: "admin" });
      return ok({ ...st.registry.info(rec), credential }, 201);
    }
  }
  if (parts.length === 6 && parts[5] === "revoke" && method === "POST") {
    const id = decodeSegment(parts[4], "worker id");
    const rec = st.registry.revoke(id);
    st.log.info("worker key revoked", { worker: rec.id });
    return ok(st.registry.info(rec));
  }
  throw new HushError("not_found", "no such route");
}

export function collectStats(st: State) {
  const keys = st.registry.count();
  return {
    version: st.version,
    uptime_ms: Date.now() - st.startedAt,
    store: st.store.stats(),
    workers: keys,
    nonce_cache: st.verifier.nonces.size,
    in_flight: st.inFlight,
  };
}
