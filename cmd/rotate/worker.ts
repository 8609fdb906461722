/** `hush rotate worker ID`: the worker must rekey before its next request. @module */
import { defineCommand } from "citty";
import { adminArgs, adminClient, jsonArgs, printJson } from "../_shared.ts";

export default defineCommand({
  meta: { name: "worker", description: "Demand that a worker rotate its key: its next request answers rekey_required." },
  args: { id: { type: "positional", required: true, description: "worker key id (w_…)" }, ...adminArgs, ...jsonArgs },
  async run({ args }) {
    const r = await (await adminClient(args)).call("POST", `/v1/admin/workers/${encodeURIComponent(args.id)}/rotate`);
    if (args.json) printJson(r);
    else
      process.stderr.write(
        `hush: ${r.id} must rekey before its next request: an SDK client given its credential rotates by itself;\n` +
          `hush: the CLI and clients using HUSH_CREDENTIAL get rekey_required until the worker joins again\n`,
      );
    return 0;
  },
});
