/** `hush kv`: the key-value store. @module */
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "kv", description: "Read and write the in-memory key-value store (signed requests)." },
  subCommands: {
    get: () => import("./get.ts").then((m) => m.default),
    set: () => import("./set.ts").then((m) => m.default),
    del: () => import("./del.ts").then((m) => m.default),
    list: () => import("./list.ts").then((m) => m.default),
    incr: () => import("./incr.ts").then((m) => m.default),
    ttl: () => import("./ttl.ts").then((m) => m.default),
  },
});
