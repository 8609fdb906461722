/**
 * `hush health`: is the daemon alive and ready? The daemon is the one every
 * command would reach (--url, --socket, $HUSH_URL, $HUSH_SOCKET, the
 * default path), and the answer names it. @module
 */
import { defineCommand } from "citty";
import { pickTransport } from "../src/client/index.ts";
import { HushError } from "../src/errors.ts";
import { decodeCredential, parseKeyFile } from "../src/keys/index.ts";
import { jsonArgs, printJson, socketArgs, urlArgs } from "./_shared.ts";
import { resolveTarget, transportOptions } from "./_target.ts";

/** The TLS pin a credential in the environment carries, if any (health needs no credential). */
function pinFromEnv(): Uint8Array | undefined {
  for (const v of [process.env.HUSH_CREDENTIAL, process.env.HUSH_ADMIN_CREDENTIAL]) {
    try {
      if (v) return decodeCredential(parseKeyFile(v)).tlsPin;
    } catch {}
  }
  return undefined;
}

export default defineCommand({
  meta: { name: "health", description: "Check that the daemon answers and is ready (exit 0) or not (exit 6)." },
  args: { ...socketArgs, ...urlArgs, ...jsonArgs },
  async run({ args }) {
    const target = resolveTarget(args, "health");
    const where = "url" in target ? target.url : target.socket;
    // Two unsigned GETs: plain HTTP requests (no WebSocket to open).
    const opts = { ...transportOptions(target, args), retries: 0, timeoutMs: 3000, transport: "http" as const };
    const pin = "url" in target ? pinFromEnv() : undefined;
    if ("url" in target && target.url.startsWith("https:") && !pin && !opts.tlsPin && !process.env.HUSH_TLS_PIN) {
      throw new HushError("invalid_request", `no TLS pin to check ${target.url} against`, {
        hint: "pass --tls-pin sha256//… (the pin `hush serve --listen` printed), or set HUSH_CREDENTIAL to a credential from that controller",
      });
    }
    const t = pickTransport(opts, pin);
    const h = await t.request("GET", "/v1/health", {});
    const r = await t.request("GET", "/v1/ready", {});
    const out = { ok: h.status === 200, ready: r.status === 200, version: JSON.parse(h.body).version, ...("url" in target ? { url: where } : { socket: where }) };
    if (args.json) printJson(out);
    else process.stdout.write(`${out.ready ? "ready" : "not ready"} (hush ${out.version}, ${where})\n`);
    return out.ready ? 0 : 6;
  },
});
