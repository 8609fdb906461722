/** `hush creds list`: names and metadata, never values. @module */
import { defineCommand } from "citty";
import { adminArgs, formatTime, jsonArgs, printJson, printTable } from "../_shared.ts";
import { adminClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "list", description: "List credentials (names and metadata, never values)." },
  args: { ...adminArgs, ...jsonArgs },
  async run({ args }) {
    const { creds } = await (await adminClient(args)).call("GET", "/v1/admin/creds");
    if (args.json || !process.stdout.isTTY) {
      for (const c of creds) printJson(c);
      return 0;
    }
    printTable(
      ["NAME", "MODE", "VALUES", "IN USE", "VERSION", "ALLOW", "SOURCE", "UPDATED"],
      creds.map((c: any) => [c.name, c.mode, String(c.values), String(c.in_use), String(c.version), c.allow.join(",") || "(nobody)", c.source, formatTime(c.updated_at)]),
    );
    return 0;
  },
});
