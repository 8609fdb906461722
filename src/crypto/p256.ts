/**
 * ECDSA P-256 for the TLS listener (native node:crypto / BoringSSL): key
 * generation, signing of a certificate's TBS bytes, and SPKI pins in curl's
 * `sha256//BASE64` form (SHA-256 of the DER SubjectPublicKeyInfo).
 * @module
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import { sha256 } from "./hash.ts";

export interface P256Key {
  /** PKCS#8 PEM (secret). */
  privateKeyPem: string;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
}

export function generateP256(): P256Key {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" }) as Buffer),
  };
}

/** ECDSA-SHA256 signature, DER-encoded (for X.509 signatureValue). */
export function signP256(privateKeyPem: string, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign("sha256", data, { key: createPrivateKey(privateKeyPem), dsaEncoding: "der" }));
}

/** DER SPKI of a PEM private key's public half. */
export function spkiOfPrivateKey(privateKeyPem: string): Uint8Array {
  return new Uint8Array(createPublicKey(createPrivateKey(privateKeyPem)).export({ type: "spki", format: "der" }) as Buffer);
}

/** DER SPKI of a certificate (PEM or DER). */
export function spkiOfCertificate(cert: string | Uint8Array): Uint8Array {
  const x = new X509Certificate(typeof cert === "string" ? cert : Buffer.from(cert));
  return new Uint8Array(x.publicKey.export({ type: "spki", format: "der" }) as Buffer);
}

/** SHA-256 of the SPKI: the raw 32-byte pin carried in tokens and credentials. */
export function spkiPin(spki: Uint8Array): Uint8Array {
  return sha256(spki);
}

/** curl's `--pinnedpubkey` form. */
export function formatPin(pin: Uint8Array): string {
  return "sha256//" + Buffer.from(pin).toString("base64");
}

export function parsePin(s: string): Uint8Array | null {
  const m = /^sha256\/\/([A-Za-z0-9+/]{43}=)$/.exec(s.trim());
  if (!m) return null;
  const b = new Uint8Array(Buffer.from(m[1]!, "base64"));
  // Canonical base64 only: the text must round-trip.
  return b.length === 32 && Buffer.from(b).toString("base64") === m[1] ? b : null;
}
