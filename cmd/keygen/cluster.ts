/** `hush keygen cluster`: the cluster key for `serve --backend … --cluster-key-file` (docs/CLUSTER.md §4). @module */
import { defineCommand } from "citty";
import { randomBytes, wipe } from "../../src/crypto/index.ts";
import { encodeClusterKey, formatKeyFile } from "../../src/keys/index.ts";
import { hint, writeSecretFile } from "../_shared.ts";

export default defineCommand({
  meta: {
    name: "cluster",
    description: "Generate a cluster key (HUSH-CLUSTER-KEY-1…): every daemon sharing one Redis holds it; it seals what they store there.",
  },
  args: { out: { type: "string", description: "write the key to FILE (created 0600, never overwritten)", valueHint: "FILE" } },
  run({ args }) {
    const k = randomBytes(32);
    const text = formatKeyFile(encodeClusterKey(k), { kind: "cluster key", note: "copy to every daemon of the cluster (0600); Redis never sees it" });
    wipe(k);
    if (args.out) writeSecretFile(args.out, text);
    else {
      if (process.stdout.isTTY) hint("printing a secret key to a terminal; prefer --out FILE", "warning");
      process.stdout.write(text);
    }
    return 0;
  },
});
