/** `hush health`: is the daemon alive and ready? @module */
import { defineCommand } from "citty";
import { createUnixTransport } from "../src/client/transport.ts";
import { defaultSocketPath } from "../src/config/index.ts";
import { jsonArgs, printJson, socketArgs, socketOwner } from "./_shared.ts";

export default defineCommand({
  meta: { name: "health", description: "Check that the daemon answers and is ready (exit 0) or not (exit 6)." },
  args: { ...socketArgs, ...jsonArgs },
  async run({ args }) {
    const path = args.socket || defaultSocketPath();
    const t = createUnixTransport(path, { retries: 0, timeoutMs: 3000, socketOwner: socketOwner(args) });
    const h = await t.request("GET", "/v1/health", {});
    const r = await t.request("GET", "/v1/ready", {});
    const out = { ok: h.status === 200, ready: r.status === 200, version: JSON.parse(h.body).version, socket: path };
    if (args.json) printJson(out);
    else process.stdout.write(`${out.ready ? "ready" : "not ready"} (hush ${out.version}, ${path})\n`);
    return out.ready ? 0 : 6;
  },
});
