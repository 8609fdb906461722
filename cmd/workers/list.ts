/** `hush workers list`: ids, names, tags, status — never keys. @module */
import { defineCommand } from "citty";
import { formatTime, jsonArgs, printJson, printTable, adminArgs } from "../_shared.ts";
import { adminClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "list", description: "List worker keys (ids and metadata, never secrets)." },
  args: { admins: { type: "boolean", description: "list admin keys instead of worker keys" }, ...adminArgs, ...jsonArgs },
  async run({ args }) {
    const c = await adminClient(args);
    const workers = args.admins ? (await c.call("GET", "/v1/admin/admins")).admins : (await c.call("GET", "/v1/admin/workers")).workers;
    if (args.json || !process.stdout.isTTY) {
      for (const w of workers) printJson(w);
      return 0;
    }
    printTable(
      ["ID", "NAME", "TAGS", "VIA", "STATUS", "EXPIRES", "LAST SEEN"],
      workers.map((w: any) => [w.id, w.name, w.tags.join(",") || "-", w.via, w.status, formatTime(w.expires_at), formatTime(w.last_seen_at)]),
    );
    return 0;
  },
});
