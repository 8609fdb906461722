/** `hush token list [--all]`: ids, uses, expiry, tags — never the PSK. @module */
import { defineCommand } from "citty";
import { adminArgs, formatTime, jsonArgs, printJson, printTable } from "../_shared.ts";
import { adminClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "list", description: "List the usable join tokens (ids and metadata, never secrets)." },
  args: {
    all: { type: "boolean", description: "also list tokens that ended (used up, revoked or expired) within the last hour" },
    ...adminArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const { tokens } = await (await adminClient(args)).call("GET", `/v1/admin/tokens${args.all ? "?all=1" : ""}`);
    if (args.json || !process.stdout.isTTY) {
      for (const t of tokens) printJson(t);
      return 0;
    }
    printTable(
      ["ID", "STATUS", "USES LEFT", "USED", "EXPIRES", "TAGS"],
      tokens.map((t: any) => [t.id, t.status, t.uses_left === null ? "unlimited" : String(t.uses_left), String(t.uses), formatTime(t.expires_at), t.tags.join(",") || "-"]),
    );
    return 0;
  },
});
