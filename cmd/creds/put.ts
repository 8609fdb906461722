/** `hush creds put NAME`: the value comes from stdin or --value-file, never argv. @module */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { parseList } from "../../src/config/index.ts";
import { jsonArgs, printJson } from "../_shared.ts";
import { adminArgs } from "../_shared.ts";
import { adminClient } from "../_target.ts";
import { readValue, valueFileArg } from "../_value.ts";
import { oneOf } from "../_argv.ts";

export default defineCommand({
  meta: { name: "put", description: "Store a credential read from stdin or --value-file (exclusive mode: one value per line)." },
  args: {
    name: { type: "positional", required: true, description: "credential name" },
    allow: {
      type: "string",
      description: "comma-separated worker tags allowed to check it out, or * for all (a new credential: nobody by default; a replaced one keeps its list)",
      valueHint: "TAGS",
    },
    "allow-none": { type: "boolean", description: "allow no worker (clears the list of a replaced credential)" },
    mode: { type: "string", description: "shared (default: every allowed worker gets the value) or exclusive (a pool: one holder per value)", valueHint: "MODE" },
    ...valueFileArg,
    ...adminArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const mode = oneOf(args.mode ?? "shared", "--mode", ["shared", "exclusive"]);
    if (args.allow !== undefined && args["allow-none"]) throw new HushError("invalid_request", "--allow and --allow-none contradict each other");
    if (args.allow?.trim() === "") throw new HushError("invalid_request", "--allow is empty", { hint: "to allow no worker, pass --allow-none" });
    // Absent: the daemon keeps a replaced credential's allow-list (a new one allows nobody).
    const allow = args["allow-none"] ? [] : args.allow === undefined ? undefined : parseList(args.allow, "--allow");
    const text = await readValue("creds put", args["value-file"], null);
    const values = mode === "exclusive" ? text.split(/\r?\n/).filter((l) => l.length > 0) : [text];
    const r = await (await adminClient(args)).call("POST", "/v1/admin/creds", { name: args.name, values, allow, mode });
    if (args.json) printJson(r);
    else process.stderr.write(`hush: stored ${r.name} (${r.mode}, ${r.values} value${r.values === 1 ? "" : "s"}, version ${r.version}, allow [${r.allow.join(",")}])\n`);
    if (r.allow.length === 0 && !args["allow-none"]) process.stderr.write("hush: warning: no worker may check it out (default deny): pass --allow TAGS\n");
    else if (allow === undefined && r.version > 1 && !args.json) process.stderr.write(`hush: kept the allow-list of version ${r.version - 1}\n`);
    return 0;
  },
});
