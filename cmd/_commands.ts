/**
 * The command tree: top-level commands, each loaded only when it runs.
 * Groups (kv, lock, …) list their own subcommands in their index.ts.
 * @module
 */
import { defineCommand, type CommandDef } from "citty";
import { VERSION } from "./_version.ts";

const lazy = (load: () => Promise<{ default: CommandDef<any> }>) => () => load().then((m) => m.default);

export const main = defineCommand({
  meta: {
    name: "hush",
    version: VERSION,
    description: "In-memory secrets and coordination state, handed only to workers that prove who they are.",
  },
  subCommands: {
    serve: lazy(() => import("./serve.ts")),
    run: lazy(() => import("./run.ts")),
    kv: lazy(() => import("./kv/index.ts")),
    lock: lazy(() => import("./lock/index.ts")),
    pool: lazy(() => import("./pool/index.ts")),
    join: lazy(() => import("./join.ts")),
    token: lazy(() => import("./token/index.ts")),
    creds: lazy(() => import("./creds/index.ts")),
    checkout: lazy(() => import("./checkout.ts")),
    audit: lazy(() => import("./audit/index.ts")),
    workers: lazy(() => import("./workers/index.ts")),
    rotate: lazy(() => import("./rotate/index.ts")),
    keygen: lazy(() => import("./keygen/index.ts")),
    stats: lazy(() => import("./stats.ts")),
    status: lazy(() => import("./status.ts")),
    health: lazy(() => import("./health.ts")),
    bench: lazy(() => import("./bench.ts")),
    completion: lazy(() => import("./completion.ts")),
    version: lazy(() => import("./version.ts")),
  },
});

