/**
 * Start-up sources of secrets for `hush serve`: the server key and the
 * credentials. All are read and validated before anything listens.
 * @module
 */
import { readFileSync } from "node:fs";
import { HushError } from "../src/errors.ts";
import { decodeServerSecret, parseKeyFile } from "../src/keys/index.ts";
import { x25519PublicKey, type X25519KeyPair } from "../src/crypto/index.ts";
import { validateAllow } from "../src/broker/index.ts";
import { loadCredSpec, parseAllowSpecs, parseCredsFile, type LoadedCred } from "../src/server/creds-load.ts";
import { warnIfLoose } from "./_shared.ts";

/** All start-up credential sources, validated. */
export async function loadCreds(file: string | undefined, specs: string[], allowSpecs: string[]): Promise<LoadedCred[]> {
  const out: LoadedCred[] = [];
  if (file) {
    warnIfLoose(file);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e: any) {
      throw new HushError("invalid_request", `cannot read --creds-file ${file}: ${e?.code ?? e}`);
    }
    out.push(...parseCredsFile(text, file));
  }
  for (const s of specs) out.push(await loadCredSpec(s));
  const allow = parseAllowSpecs(allowSpecs);
  for (const [name] of allow) if (!out.some((c) => c.name === name)) throw new HushError("invalid_request", `--cred-allow ${name}: no such credential`);
  const seen = new Set<string>();
  for (const c of out) {
    if (seen.has(c.name)) throw new HushError("invalid_request", `credential ${c.name} is defined twice`);
    seen.add(c.name);
    if (allow.has(c.name)) c.allow = allow.get(c.name)!;
    c.allow = validateAllow(c.allow);
    if (c.mode !== "shared" && c.mode !== "exclusive") throw new HushError("invalid_request", `credential ${c.name}: mode must be shared or exclusive`);
    if (c.mode === "shared" && c.values.length !== 1) throw new HushError("invalid_request", `credential ${c.name}: a shared credential has one value`);
  }
  return out;
}

/** The server key from --server-key-file or HUSH_SERVER_KEY (never argv). */
export function loadServerKey(file: string | undefined): X25519KeyPair | undefined {
  let text = process.env.HUSH_SERVER_KEY;
  if (file) {
    warnIfLoose(file);
    try {
      text = readFileSync(file, "utf8");
    } catch (e: any) {
      throw new HushError("invalid_request", `cannot read server key file ${file}: ${e?.code ?? e}`);
    }
  }
  if (!text) return undefined;
  const secretKey = decodeServerSecret(parseKeyFile(text));
  return { secretKey, publicKey: x25519PublicKey(secretKey) };
}


/** --tls-cert and --tls-key, both or neither. */
export function loadTlsFiles(cert: string | undefined, key: string | undefined): { certPem: string; keyPem: string } | undefined {
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new HushError("invalid_request", "--tls-cert and --tls-key go together");
  warnIfLoose(key);
  const read = (f: string, what: string) => {
    try {
      return readFileSync(f, "utf8");
    } catch (e: any) {
      throw new HushError("invalid_request", `cannot read ${what} ${f}: ${e?.code ?? e}`);
    }
  };
  return { certPem: read(cert, "--tls-cert"), keyPem: read(key, "--tls-key") };
}
