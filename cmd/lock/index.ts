/** `hush lock`: locks with fencing tokens. @module */
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "lock", description: "Acquire, renew and release locks with fencing tokens." },
  subCommands: {
    acquire: () => import("./acquire.ts").then((m) => m.default),
    renew: () => import("./renew.ts").then((m) => m.default),
    release: () => import("./release.ts").then((m) => m.default),
  },
});
