/** `hush keygen server`: an X25519 server identity for `serve --server-key-file`. @module */
import { defineCommand } from "citty";
import { generateX25519 } from "../../src/crypto/index.ts";
import { encodeServerPublic, encodeServerSecret, formatKeyFile } from "../../src/keys/index.ts";
import { emitKeyFile, hint, jsonArgs, printJson, writeSecretFile } from "../_shared.ts";

export default defineCommand({
  meta: { name: "server", description: "Generate the server's X25519 key (HUSH-SERVER-KEY-1…); the public key goes to stderr." },
  args: { out: { type: "string", description: "write the key to FILE (created 0600, never overwritten)", valueHint: "FILE" }, ...jsonArgs },
  run({ args }) {
    const k = generateX25519();
    const pub = encodeServerPublic(k.publicKey);
    const secret = encodeServerSecret(k.secretKey);
    const text = formatKeyFile(secret, { kind: "server key", publicKey: pub });
    k.secretKey.fill(0);
    if (!args.json) return emitKeyFile(args.out, text, pub), 0;
    if (args.out) writeSecretFile(args.out, text);
    else if (process.stdout.isTTY) hint("printing a secret key to a terminal; prefer --out FILE", "warning");
    printJson(args.out ? { public_key: pub } : { public_key: pub, secret_key: secret });
    return 0;
  },
});
