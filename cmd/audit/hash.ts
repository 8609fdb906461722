/** `hush audit hash`: the HMAC form of a value, to search the audit log for it. @module */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { adminArgs, adminClient, jsonArgs, printJson, readStdin } from "../_shared.ts";

export default defineCommand({
  meta: {
    name: "hash",
    description: "Print the form (hmac-sha256:…) under which the value on stdin would appear in the audit log (one trailing newline is dropped).",
  },
  args: { ...adminArgs, ...jsonArgs },
  async run({ args }) {
    if (process.stdin.isTTY) throw new HushError("invalid_request", "audit hash reads the value from stdin; pipe it in");
    const raw = await readStdin();
    let value = new TextDecoder("utf-8", { fatal: false }).decode(raw);
    raw.fill(0);
    if (value.endsWith("\n")) value = value.slice(0, value.endsWith("\r\n") ? -2 : -1);
    const r = await (await adminClient(args)).call<{ hash: string }>("POST", "/v1/admin/audit/hash", { value });
    if (args.json) printJson(r);
    else process.stdout.write(r.hash + "\n");
    return 0;
  },
});
