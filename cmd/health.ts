/**
 * `hush health`: is the daemon alive and ready? The daemon is the one every
 * command would reach (--url, --socket, $HUSH_URL, $HUSH_SOCKET, the
 * credential's `# addresses:` line, the default path; cmd/_target.ts), and
 * the answer names it. With a list, each address is checked: the answer
 * names the first that answered and lists those that are down. @module
 */
import { defineCommand } from "citty";
import { pickTransport } from "../src/client/index.ts";
import { HushError } from "../src/errors.ts";
import { decodeCredential, parseKeyFile } from "../src/keys/index.ts";
import { readHealthKey } from "./_credentials.ts";
import { credentialArgs, jsonArgs, printJson } from "./_shared.ts";
import { resolveTarget, transportOptions } from "./_target.ts";

/** The TLS pin a credential carries, if any (health needs no credential). */
function pinOf(text: string | undefined): Uint8Array | undefined {
  try {
    if (text) return decodeCredential(parseKeyFile(text)).tlsPin;
  } catch {}
  return undefined;
}

interface Probe {
  where: string;
  ok: boolean;
  ready: boolean;
  version?: string;
}

/** Two unsigned GETs to one daemon (plain HTTP requests: no WebSocket to open). A daemon that cannot be reached is down. */
async function probe(opts: Parameters<typeof pickTransport>[0], pin: Uint8Array | undefined, where: string, last: boolean): Promise<Probe> {
  const t = pickTransport(opts, pin);
  try {
    const h = await t.request("GET", "/v1/health", {});
    const r = await t.request("GET", "/v1/ready", {});
    return { where, ok: h.status === 200, ready: r.status === 200, version: JSON.parse(h.body).version };
  } catch (e) {
    // The last address's error is the command's (it says why nothing answered).
    if (last || !(e instanceof HushError) || e.code !== "unavailable") throw e;
    return { where, ok: false, ready: false };
  }
}

export default defineCommand({
  meta: { name: "health", description: "Check that the daemon answers and is ready (exit 0) or not (exit 6)." },
  args: { ...credentialArgs, ...jsonArgs },
  async run({ args }) {
    const key = readHealthKey(args["credential-file"]);
    const target = resolveTarget(args, "health", key);
    const opts = { ...transportOptions(target, args), retries: 0, timeoutMs: 3000, transport: "http" as const };
    const pin = "url" in target ? pinOf(key?.text ?? process.env.HUSH_ADMIN_CREDENTIAL) : undefined;
    if ("url" in target && target.url.includes("https:") && !pin && !opts.tlsPin && !process.env.HUSH_TLS_PIN) {
      throw new HushError("invalid_request", `no TLS pin to check ${target.url} against`, {
        hint: "pass --tls-pin sha256//… (the pin `hush serve --listen` printed), or set HUSH_CREDENTIAL to a credential from that controller",
      });
    }
    const list = "url" in target ? target.url.split(",") : [target.socket];
    const down: string[] = [];
    let answer: Probe | undefined;
    for (const [i, where] of list.entries()) {
      const p = await probe("url" in target ? { ...opts, url: where } : opts, pin, where, i === list.length - 1 && down.length === i);
      if (!p.ok && p.version === undefined) down.push(where);
      else answer ??= p;
    }
    const a = answer!;
    const out = { ok: a.ok, ready: a.ready, version: a.version, ...("url" in target ? { url: a.where } : { socket: a.where }), ...(down.length ? { down } : {}) };
    if (args.json) printJson(out);
    else process.stdout.write(`${out.ready ? "ready" : "not ready"} (hush ${out.version}, ${a.where}${down.length ? `; down: ${down.join(",")}` : ""})\n`);
    return out.ready ? 0 : 6;
  },
});
