/** `hush keygen audit`: the X25519 key pair that seals the audit log (PROTOCOL.md §9). @module */
import { defineCommand } from "citty";
import { generateX25519 } from "../../src/crypto/index.ts";
import { HRP, encodeKeyString, formatKeyFile } from "../../src/keys/index.ts";
import { emitKeyFile } from "../_shared.ts";

export default defineCommand({
  meta: {
    name: "audit",
    description: "Generate the audit sealing key (HUSH-AUDIT-KEY-1…); the public key (hushaudit1…, on stderr) goes to `serve --audit-key`.",
  },
  args: { out: { type: "string", description: "write the secret key to FILE (created 0600, never overwritten); keep it off the daemon's host", valueHint: "FILE" } },
  run({ args }) {
    const k = generateX25519();
    const pub = encodeKeyString(HRP.auditPublic, k.publicKey);
    const text = formatKeyFile(encodeKeyString(HRP.auditSecret, k.secretKey), {
      kind: "audit key",
      publicKey: pub,
      note: "verifies audit seals: hush audit verify --file FILE --key-file THIS; keep it off the host that runs hush serve",
    });
    k.secretKey.fill(0);
    emitKeyFile(args.out, text, pub);
    return 0;
  },
});
