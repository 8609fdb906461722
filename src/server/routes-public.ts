/**
 * The public routes (PROTOCOL.md §8, "Public"): liveness and readiness,
 * answered on every listener, unsigned, before the request body is read.
 * @module
 */
import { type Answer, fail, ok } from "./http.ts";
import type { Ctx } from "./pipeline.ts";

/** `GET /v1/health`: `{"ok": true, "version"}` whenever the daemon answers at all. */
export function health(c: Ctx): Answer {
  return ok({ ok: true, version: c.st.version });
}

/**
 * `GET /v1/ready`: 200 while serving, the audit log can be written and the
 * state backend can answer; `503 unavailable` with the reason otherwise
 * (fail closed; docs/CLUSTER.md §8).
 */
export function ready(c: Ctx): Answer {
  const st = c.st;
  if (st.phase !== "serving") return fail("unavailable", st.phase, c.corrId);
  if (!st.audit.healthy) return fail("unavailable", "audit log cannot be written", c.corrId);
  const backend = st.store.unavailable();
  return backend !== null ? fail("unavailable", backend, c.corrId) : ok({ ready: true });
}
