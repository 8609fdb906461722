/** `hush token`: join tokens. @module */
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "token", description: "Create, list and revoke join tokens (admin)." },
  subCommands: {
    create: () => import("./create.ts").then((m) => m.default),
    list: () => import("./list.ts").then((m) => m.default),
    revoke: () => import("./revoke.ts").then((m) => m.default),
  },
});
