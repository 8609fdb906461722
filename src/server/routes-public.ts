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

/** `GET /v1/ready`: 200 while serving and the audit log can be written; `503 unavailable` otherwise (fail closed). */
export function ready(c: Ctx): Answer {
  const st = c.st;
  return st.phase !== "serving" ? fail("unavailable", st.phase, c.corrId) : !st.audit.healthy ? fail("unavailable", "audit log cannot be written", c.corrId) : ok({ ready: true });
}
