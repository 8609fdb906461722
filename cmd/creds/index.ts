/** `hush creds`: credentials held for workers. @module */
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "creds", description: "Put, list and delete credentials that workers check out (admin)." },
  subCommands: {
    put: () => import("./put.ts").then((m) => m.default),
    list: () => import("./list.ts").then((m) => m.default),
    delete: () => import("./delete.ts").then((m) => m.default),
  },
});
