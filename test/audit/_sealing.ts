/**
 * Test helper: a verification key and a sealing state file made the way
 * `hush keygen audit` makes them (src/audit/state-file.ts), in a directory.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "../../src/crypto/index.ts";
import { SealStateFile, initialSealStateFile, sealKeyId } from "../../src/audit/index.ts";

export interface Sealing {
  /** The verification key (the seed). */
  seed: Uint8Array;
  keyId: string;
  /** The state file's path. */
  path: string;
  /** Load the state file as the daemon does. */
  load(): SealStateFile;
}

let n = 0;

export function makeSealing(dir: string, name = `state${n++}`): Sealing {
  const seed = randomBytes(32);
  const path = join(dir, name);
  writeFileSync(path, initialSealStateFile(seed), { mode: 0o600, flag: "wx" });
  return { seed, keyId: sealKeyId(seed), path, load: () => SealStateFile.load(path) };
}
