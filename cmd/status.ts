/**
 * `hush status`: how the daemon is doing (`GET /v1/status`): with a worker
 * credential ($HUSH_CREDENTIAL, --credential-file) signed on hush.sock or
 * TCP, with an admin credential signed on hush.sock, else on admin.sock.
 * Exit 0 when `ok`, 6 when degraded or draining, or when the daemon answers
 * that it cannot serve for now (a shared backend's quiet period). The answer
 * names the daemon that gave it (`url` or `socket` in JSON, as `hush health`
 * does): with several addresses, the first that could be reached, and
 * `down`, those passed over.
 * @module
 */
import { defineCommand } from "citty";
import { HushError } from "../src/errors.ts";
import { adminArgs, credentialArgs, jsonArgs, printJson } from "./_shared.ts";
import { adminReach, askInTurn, resolveTarget, workerReach, type AdminCaller, type Reach } from "./_target.ts";

export default defineCommand({
  meta: { name: "status", description: "Show which daemon answered, its uptime, memory, items and bytes against their limits, requests in flight; exit 6 when degraded or draining." },
  args: { ...credentialArgs, "admin-credential-file": adminArgs["admin-credential-file"], ...jsonArgs },
  async run({ args }) {
    // A URL (--url or $HUSH_URL, cmd/_target.ts) reaches a daemon only with signed requests: it needs the worker credential.
    const worker = args["credential-file"] || process.env.HUSH_CREDENTIAL || "url" in resolveTarget(args, "admin");
    const reach: Reach<AdminCaller> = worker ? workerReach(args) : adminReach(args);
    const { where, answer, down } = await askInTurn(reach, async (c) => {
      try {
        return await c.call("GET", "/v1/status");
      } catch (e) {
        // The daemon answered that it cannot serve for a while (Retry-After: a shared backend in its quiet period, docs/CLUSTER.md §7): that is its status.
        if (e instanceof HushError && e.code === "unavailable" && typeof e.detail.retryAfter === "number") return e;
        throw e;
      }
    });
    // Which daemon answered, named as `hush health` names it.
    const daemon = { ...("url" in reach.target ? { url: where } : { socket: where }), ...(down.length ? { down } : {}) };
    const daemonLine = `daemon     ${where}${down.length ? ` (down: ${down.join(",")})` : ""}\n`;
    const json = args.json || !process.stdout.isTTY;
    if (answer instanceof HushError) {
      if (json) printJson({ status: "unavailable", message: answer.message, retry_after_s: answer.detail.retryAfter, ...daemon });
      else process.stdout.write(`status     unavailable: ${answer.message}\n${daemonLine}`);
      return 6;
    }
    const s = answer;
    if (json) printJson({ ...s, ...daemon });
    else {
      const of = (u: { used: number | null; limit: number }, f: (n: number) => string = String) =>
        u.used === null ? `- of ${f(u.limit)} (not counted in Redis)` : `${f(u.used)} of ${f(u.limit)} (${((100 * u.used) / u.limit).toFixed(1)}%)`;
      process.stdout.write(
        `status     ${s.status}${s.degraded ? " (the audit file cannot be written)" : ""}\n${daemonLine}version    ${s.version}\nuptime     ${Math.round(s.uptime_ms / 1000)}s\n` +
          `memory     ${_mib(s.memory.rss_bytes)} resident, ${_mib(s.memory.heap_used_bytes)} heap\nitems      ${of(s.items)}\n` +
          `bytes      ${of(s.bytes, _mib)}\nin flight  ${of(s.in_flight)}\naudit      ${s.audit}\n`,
      );
    }
    return s.status === "ok" ? 0 : 6;
  },
});

function _mib(n: number): string {
  return n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}
