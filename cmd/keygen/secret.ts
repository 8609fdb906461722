/** `hush keygen secret`: a random secret for scripts. @module */
import { defineCommand } from "citty";
import { randomBytes, toB64u, toHex } from "../../src/crypto/index.ts";
import { parsePositiveInt } from "../../src/config/index.ts";
import { hint, jsonArgs, printJson, writeSecretFile } from "../_shared.ts";
import { HushError } from "../../src/errors.ts";

export default defineCommand({
  meta: {
    name: "secret",
    description: "Print a random secret (default 32 bytes, base64url) from the OS CSPRNG.",
  },
  args: {
    bytes: { type: "string", description: "number of random bytes (default 32)", valueHint: "N" },
    hex: { type: "boolean", description: "hex instead of base64url" },
    out: { type: "string", description: "write to FILE (created 0600, never overwritten)", valueHint: "FILE" },
    ...jsonArgs,
  },
  run({ args }) {
    const n = args.bytes ? parsePositiveInt(args.bytes, "--bytes") : 32;
    if (n > 1024) throw new HushError("invalid_request", "--bytes: at most 1024");
    const b = randomBytes(n);
    const s = args.hex ? toHex(b) : toB64u(b);
    b.fill(0);
    const info = { bytes: n, encoding: args.hex ? "hex" : "base64url" };
    if (args.out) {
      writeSecretFile(args.out, s + "\n");
      if (args.json) printJson(info);
    } else {
      if (process.stdout.isTTY) hint("printing a secret to a terminal; prefer --out FILE or a pipe", "warning");
      if (args.json) printJson({ ...info, secret: s });
      else process.stdout.write(s + "\n");
    }
    return 0;
  },
});
