/** `hush pool`: lease pools. @module */
import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "pool", description: "Lease, renew and release numbered slots of a pool (e.g. test accounts, ports)." },
  subCommands: {
    lease: () => import("./lease.ts").then((m) => m.default),
    renew: () => import("./renew.ts").then((m) => m.default),
    release: () => import("./release.ts").then((m) => m.default),
  },
});
