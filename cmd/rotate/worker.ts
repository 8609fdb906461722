/** `hush rotate worker ID`: the worker must rekey before its next request. @module */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { adminArgs, hint, jsonArgs, printJson } from "../_shared.ts";
import { adminClient } from "../_target.ts";

export default defineCommand({
  meta: {
    name: "worker",
    description:
      "Demand that a worker rotate its key: until it rekeys, its key may only rekey and ask whoami. " +
      "Not a revocation: whoever holds the credential can complete the rotation (use `hush workers revoke` to cut a credential off).",
  },
  args: { id: { type: "positional", required: true, description: "worker key id (w_…)" }, ...adminArgs, ...jsonArgs },
  async run({ args }) {
    if (args.id.startsWith("a_")) {
      throw new HushError("invalid_request", `${args.id} is an admin key: admin keys cannot be rotated`, {
        hint: `revoke it (hush workers revoke ${args.id}) and make a new one with \`hush keygen admin\``,
      });
    }
    const r = await (await adminClient(args)).call("POST", `/v1/admin/workers/${encodeURIComponent(args.id)}/rotate`);
    if (args.json) printJson(r);
    else {
      process.stderr.write(
        `hush: ${r.id} must rekey before its next request; until then its key may only rekey and ask whoami.\n` +
          `hush: an SDK client given its credential rotates by itself; the CLI and clients using HUSH_CREDENTIAL get rekey_required until the worker joins again\n`,
      );
      hint("this is not a revocation: whoever holds a copy of the credential can complete the rotation and keep the worker; to cut a credential off, use `hush workers revoke`");
    }
    return 0;
  },
});
