/** `hush stats`: store and daemon counters (admin socket). @module */
import { defineCommand } from "citty";
import { jsonArgs, printJson, adminArgs } from "./_shared.ts";
import { adminClient } from "./_target.ts";

export default defineCommand({
  meta: { name: "stats", description: "Show store and daemon statistics (admin socket)." },
  args: { ...adminArgs, ...jsonArgs },
  async run({ args }) {
    const s = await (await adminClient(args)).call("GET", "/v1/admin/stats");
    if (args.json || !process.stdout.isTTY) return printJson(s), 0;
    const st = s.store;
    process.stdout.write(
      `version      ${s.version}\nuptime       ${Math.round(s.uptime_ms / 1000)}s\nitems        ${st.items} (kv ${st.kv}, locks ${st.locks}, claims ${st.claims ?? 0}, leases ${st.leases} in ${st.pools} pools)\n` +
        `bytes        ${st.bytes ?? "-"}\nbackend      ${s.backend ?? "memory"}\nworkers      ${s.workers.active} active, ${s.workers.total} known\nnonce cache  ${s.nonce_cache}\n`,
    );
    return 0;
  },
});
