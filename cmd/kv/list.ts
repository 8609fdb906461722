/**
 * `hush kv list [PREFIX] [--limit N] [--cursor C]`: every key by default
 * (page after page, printed as they arrive, waiting out the daemon's
 * listing budget); with --limit or --cursor, one page, and the cursor of
 * the next one on stderr (or in --json).
 * @module
 */
import { defineCommand } from "citty";
import { parsePositiveInt } from "../../src/config/index.ts";
import { credentialArgs, hint, jsonArgs, printJson } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "list", description: "List live keys, optionally under a prefix (all of them, or one page with --limit/--cursor)." },
  args: {
    prefix: { type: "positional", required: false, description: "key prefix" },
    limit: { type: "string", description: "list one page of at most N keys (the daemon caps it, 1000 by default)", valueHint: "N" },
    cursor: { type: "string", description: "continue after the page that printed this cursor", valueHint: "C" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const c = await workerClient(args);
    const prefix = args.prefix ?? "";
    if (args.limit === undefined && args.cursor === undefined) {
      if (args.json) printJson({ keys: await c.list(prefix) });
      else for await (const keys of c.pages(prefix)) if (keys.length) process.stdout.write(keys.join("\n") + "\n");
      return 0;
    }
    const limit = args.limit === undefined ? undefined : parsePositiveInt(args.limit, "--limit");
    const page = await c.listPage(prefix, { limit, cursor: args.cursor });
    if (args.json) printJson({ keys: page.keys, next_cursor: page.nextCursor });
    else {
      if (page.keys.length) process.stdout.write(page.keys.join("\n") + "\n");
      if (page.nextCursor) hint(`more keys: hush kv list${prefix ? ` '${prefix.replace(/'/g, "'\\''")}'` : ""} --cursor ${page.nextCursor}${args.limit ? ` --limit ${args.limit}` : ""}`);
    }
    return 0;
  },
});
