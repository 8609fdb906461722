/** `hush rotate`: rotate worker keys, join tokens and the server key. @module */
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "rotate", description: "Rotate a worker's key, a join token, or the server key (admin)." },
  subCommands: {
    worker: () => import("./worker.ts").then((m) => m.default),
    token: () => import("./token.ts").then((m) => m.default),
    "server-key": () => import("./server-key.ts").then((m) => m.default),
  },
});
