/**
 * `hush keygen audit`: from one random seed, the audit verification key
 * (HUSH-AUDIT-VERIFY-1…, kept off the daemon's host) and the daemon's
 * initial sealing state (HUSH-AUDIT-STATE-1…, epoch 0), like
 * `journalctl --setup-keys` (PROTOCOL.md §9.4). @module
 */
import { defineCommand } from "citty";
import { resolve } from "node:path";
import { HushError } from "../../src/errors.ts";
import { randomBytes, wipe } from "../../src/crypto/index.ts";
import { checkSealStateDirectory, initialSealStateFile, sealKeyId } from "../../src/audit/index.ts";
import { HRP, encodeKeyString, formatKeyFile, parseKeyFile } from "../../src/keys/index.ts";
import { createSecretFile, hint, jsonArgs, printJson } from "../_shared.ts";

export default defineCommand({
  meta: {
    name: "audit",
    description:
      "Make the audit verification key (HUSH-AUDIT-VERIFY-1…: --out FILE, else stdout; keep it off the daemon's host) and the daemon's sealing state (--state-out FILE, for `serve --audit-state-file`), from one seed.",
  },
  args: {
    "state-out": { type: "string", description: "write the daemon's initial sealing state to FILE (created 0600, never overwritten; in a directory only you or root can write, not /tmp); required", valueHint: "FILE" },
    out: { type: "string", description: "write the verification key to FILE (created 0600, never overwritten) instead of stdout", valueHint: "FILE" },
    ...jsonArgs,
  },
  run({ args }) {
    const stateOut = args["state-out"];
    if (!stateOut) throw new HushError("invalid_request", "hush keygen audit needs --state-out FILE (the daemon's sealing state)");
    if (args.out && resolve(args.out) === resolve(stateOut)) throw new HushError("invalid_request", "--out and --state-out must be different files");
    checkSealStateDirectory(stateOut); // the daemon would refuse it there (another user could write next to it)
    // Both files exist (empty, 0600) before the seed does: a refused path leaves nothing behind.
    const state = createSecretFile(stateOut, "--state-out");
    let out;
    try {
      out = args.out ? createSecretFile(args.out) : undefined;
    } catch (e) {
      state.discard();
      throw e;
    }
    const seed = randomBytes(32);
    const keyId = sealKeyId(seed);
    const verify = formatKeyFile(encodeKeyString(HRP.auditVerify, seed), {
      kind: "audit verification key",
      note: `key id ${keyId}. Verifies the audit log: hush audit verify --file LOG --key-file THIS. Keep it OFF the host that runs hush serve: with it, every seal can be forged`,
    });
    const stateText = initialSealStateFile(seed);
    wipe(seed);
    state.write(stateText);
    if (out) out.write(verify);
    else if (process.stdout.isTTY) hint("printing the verification key to a terminal; prefer --out FILE on another host", "warning");
    if (args.json) printJson(out ? { key_id: keyId } : { key_id: keyId, verify_key: parseKeyFile(verify) });
    else if (!out) process.stdout.write(verify);
    if (!args.json) process.stderr.write(`Key id: ${keyId}\n`);
    hint(`start the daemon as the user that owns ${stateOut}, which it rewrites at every seal: hush serve --audit-file FILE --audit-state-file ${stateOut}`);
    return 0;
  },
});
