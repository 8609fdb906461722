/** `hush workers`: issue, list and revoke worker credentials. @module */
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "workers", description: "Issue, list and revoke worker credentials (admin socket)." },
  subCommands: {
    issue: () => import("./issue.ts").then((m) => m.default),
    list: () => import("./list.ts").then((m) => m.default),
    revoke: () => import("./revoke.ts").then((m) => m.default),
  },
});
