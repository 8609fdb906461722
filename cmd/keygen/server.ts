/** `hush keygen server`: an X25519 server identity for `serve --server-key-file`. @module */
import { defineCommand } from "citty";
import { generateX25519 } from "../../src/crypto/index.ts";
import { encodeServerPublic, encodeServerSecret, formatKeyFile } from "../../src/keys/index.ts";
import { emitKeyFile } from "../_shared.ts";

export default defineCommand({
  meta: { name: "server", description: "Generate the server's X25519 key (HUSH-SERVER-KEY-1…); the public key goes to stderr." },
  args: { out: { type: "string", description: "write the key to FILE (created 0600, never overwritten)", valueHint: "FILE" } },
  run({ args }) {
    const k = generateX25519();
    const pub = encodeServerPublic(k.publicKey);
    const text = formatKeyFile(encodeServerSecret(k.secretKey), { kind: "server key", publicKey: pub });
    k.secretKey.fill(0);
    emitKeyFile(args.out, text, pub);
    return 0;
  },
});
