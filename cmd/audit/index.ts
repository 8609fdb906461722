/** `hush audit`: read, verify and search the audit log. @module */
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "audit", description: "Read, verify and search the audit log (hash-chained, sealed JSON Lines)." },
  subCommands: {
    tail: () => import("./tail.ts").then((m) => m.default),
    verify: () => import("./verify.ts").then((m) => m.default),
    hash: () => import("./hash.ts").then((m) => m.default),
  },
});
