/** `hush audit hash`: the HMAC form of a value, to search the audit log for it. @module */
import { defineCommand } from "citty";
import { adminArgs, jsonArgs, printJson } from "../_shared.ts";
import { adminClient } from "../_target.ts";
import { allowEmptyArg, readValue, valueFileArg } from "../_value.ts";

export default defineCommand({
  meta: {
    name: "hash",
    description: "Print the form (hmac-sha256:…) under which a value (stdin or --value-file) appears in the audit log (one trailing newline is dropped).",
  },
  args: { ...valueFileArg, ...allowEmptyArg, ...adminArgs, ...jsonArgs },
  async run({ args }) {
    const value = await readValue("audit hash", args["value-file"], args["allow-empty"] === true);
    const r = await (await adminClient(args)).call<{ hash: string }>("POST", "/v1/admin/audit/hash", { value });
    if (args.json) printJson(r);
    else process.stdout.write(r.hash + "\n");
    return 0;
  },
});
