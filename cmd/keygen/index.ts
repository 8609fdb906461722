/** `hush keygen`: generate secrets and keys. @module */
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "keygen", description: "Generate secrets and keys (written 0600, never overwritten)." },
  subCommands: {
    secret: () => import("./secret.ts").then((m) => m.default),
    server: () => import("./server.ts").then((m) => m.default),
    admin: () => import("./admin.ts").then((m) => m.default),
    tls: () => import("./tls.ts").then((m) => m.default),
    audit: () => import("./audit.ts").then((m) => m.default),
    cluster: () => import("./cluster.ts").then((m) => m.default),
  },
});
