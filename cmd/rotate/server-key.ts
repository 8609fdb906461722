/** `hush rotate server-key --stage prepare|activate|retire`. @module */
import { defineCommand } from "citty";
import { oneOf } from "../_argv.ts";
import { adminArgs, jsonArgs, printJson, printTable, formatTime } from "../_shared.ts";
import { adminClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "server-key", description: "Rotate the server's join key in stages: prepare, activate, retire." },
  args: {
    stage: { type: "string", description: "prepare (make a new key), activate (new tokens use it; old tokens still work), retire (wipe the old key, refuse its tokens); omit to list keys", valueHint: "STAGE" },
    ...adminArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const stage = args.stage === undefined ? undefined : oneOf(args.stage, "--stage", ["prepare", "activate", "retire"]);
    const c = await adminClient(args);
    const r = stage ? await c.call("POST", `/v1/admin/server-key/${stage}`) : await c.call("GET", "/v1/admin/server-key");
    if (args.json || !process.stdout.isTTY) printJson(r);
    else printTable(["ID", "STATE", "CREATED", "PUBLIC KEY"], r.keys.map((k: any) => [k.id, k.state, formatTime(k.created_at), k.public]));
    return 0;
  },
});
