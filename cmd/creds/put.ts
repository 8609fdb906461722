/** `hush creds put NAME`: the value comes from stdin or --value-file, never argv. @module */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { adminArgs, jsonArgs, printJson } from "../_shared.ts";
import { adminClient } from "../_target.ts";
import { readValue, valueFileArg } from "../_value.ts";

export default defineCommand({
  meta: { name: "put", description: "Store a credential read from stdin or --value-file (exclusive mode: one value per line)." },
  args: {
    name: { type: "positional", required: true, description: "credential name" },
    allow: { type: "string", description: "comma-separated worker tags allowed to check it out, or * for all (default: nobody)", valueHint: "TAGS" },
    mode: { type: "string", description: "shared (default: every allowed worker gets the value) or exclusive (a pool: one holder per value)", valueHint: "MODE" },
    ...valueFileArg,
    ...adminArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const mode = args.mode ?? "shared";
    if (mode !== "shared" && mode !== "exclusive") throw new HushError("invalid_request", "--mode must be shared or exclusive");
    const text = await readValue("creds put", args["value-file"], null);
    const values = mode === "exclusive" ? text.split(/\r?\n/).filter((l) => l.length > 0) : [text];
    const allow = args.allow ? args.allow.split(",").map((t) => t.trim()).filter(Boolean) : [];
    const r = await (await adminClient(args)).call("POST", "/v1/admin/creds", { name: args.name, values, allow, mode });
    if (args.json) printJson(r);
    else process.stderr.write(`hush: stored ${r.name} (${r.mode}, ${r.values} value${r.values === 1 ? "" : "s"}, version ${r.version}, allow [${r.allow.join(",")}])\n`);
    if (allow.length === 0) process.stderr.write("hush: warning: no --allow given: no worker may check it out (default deny)\n");
    return 0;
  },
});
