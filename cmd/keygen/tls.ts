/** `hush keygen tls --host NAME[,NAME…]`: an ECDSA P-256 key and self-signed certificate. @module */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { formatPin } from "../../src/crypto/index.ts";
import { makeSelfSigned } from "../../src/server/tls.ts";
import { parseList, parsePositiveInt } from "../../src/config/index.ts";
import { createSecretFile, hint, jsonArgs, printJson } from "../_shared.ts";

export default defineCommand({
  meta: { name: "tls", description: "Make a TLS key and self-signed certificate for `serve --listen`; prints the pin workers check." },
  args: {
    host: { type: "string", required: true, description: "comma-separated DNS names and IP addresses the certificate covers", valueHint: "NAMES" },
    "out-cert": { type: "string", description: "certificate file (PEM; created exclusively)", valueHint: "FILE" },
    "out-key": { type: "string", description: "private key file (PEM; created 0600, never overwritten)", valueHint: "FILE" },
    days: { type: "string", description: "validity in days (default 365)", valueHint: "N" },
    ...jsonArgs,
  },
  run({ args }) {
    const hosts = parseList(args.host, "--host");
    if (hosts.some((h) => !/^[A-Za-z0-9.:*-]{1,253}$/.test(h))) throw new HushError("invalid_request", "--host: comma-separated DNS names or IP addresses");
    if (!!args["out-cert"] !== !!args["out-key"]) throw new HushError("invalid_request", "--out-cert and --out-key go together");
    // Create both files first: a refused path never leaves half a key pair.
    const keyFile = args["out-key"] ? createSecretFile(args["out-key"], "--out-key") : undefined;
    let certFile;
    try {
      certFile = args["out-cert"] ? createSecretFile(args["out-cert"], "--out-cert") : undefined;
    } catch (e) {
      keyFile?.discard();
      throw e;
    }
    const m = makeSelfSigned(hosts, args.days ? parsePositiveInt(args.days, "--days") : 365);
    const pin = formatPin(m.pin);
    if (keyFile && certFile) {
      keyFile.write(m.keyPem);
      certFile.write(m.certPem);
    } else if (process.stdout.isTTY) hint("printing a private key to a terminal; prefer --out-cert/--out-key", "warning");
    // --json: one object on stdout; the PEM texts are in it unless they went to files.
    if (args.json) printJson(keyFile ? { pin, hosts } : { pin, hosts, cert_pem: m.certPem, key_pem: m.keyPem });
    else if (!keyFile) process.stdout.write(m.certPem + m.keyPem);
    if (!args.json) process.stderr.write(`TLS pin: ${pin}\n`);
    return 0;
  },
});
