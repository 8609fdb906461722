/**
 * TLS material for the TCP listener: a certificate and key given by the
 * operator, or a self-signed ECDSA P-256 certificate made in memory at start
 * (never written to disk). Either way the SPKI SHA-256 pin is what workers
 * check (PROTOCOL.md §2). The listener speaks TLS 1.3 only (RFC 8446): its
 * five cipher suites are all AEAD, with ephemeral key exchange, so no CBC
 * suite, static-RSA exchange or renegotiation can be negotiated. Every hush
 * client (Bun, Node ≥ 20, curl, openssl) speaks TLS 1.3.
 * @module
 */
import { generateP256, randomBytes, signP256, spkiOfCertificate, spkiPin, spkiOfPrivateKey, equalBytes } from "../crypto/index.ts";
import { buildSelfSignedCert, toPem } from "../keys/index.ts";
import { HushError } from "../errors.ts";

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the certificate's SubjectPublicKeyInfo. */
  pin: Uint8Array;
}

/**
 * `SSL_OP_NO_*` bits of BoringSSL (the TLS library in Bun; the same values as
 * OpenSSL's): refuse every protocol version below TLS 1.3. Bun.serve's
 * `secureOptions` passes them to SSL_CTX_set_options.
 */
const SSL_OP_NO_SSLv3 = 0x02000000;
const SSL_OP_NO_TLSv1 = 0x04000000;
const SSL_OP_NO_TLSv1_2 = 0x08000000;
const SSL_OP_NO_TLSv1_1 = 0x10000000;
export const TLS13_ONLY = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2;

/** Bun.serve `tls` options for `m`: TLS 1.3 only. */
export function tlsServerOptions(m: TlsMaterial): { cert: string; key: string; secureOptions: number } {
  return { cert: m.certPem, key: m.keyPem, secureOptions: TLS13_ONLY };
}

/** A self-signed certificate for `hosts` (DNS names and IP addresses). */
export function makeSelfSigned(hosts: string[], days = 365): TlsMaterial {
  const k = generateP256();
  const now = Date.now();
  const der = buildSelfSignedCert({
    hosts,
    spki: k.spki,
    serial: randomBytes(16),
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + days * 86_400_000),
    sign: (tbs) => signP256(k.privateKeyPem, tbs),
  });
  return { certPem: toPem(der), keyPem: k.privateKeyPem, pin: spkiPin(k.spki) };
}

/** Check that a certificate and key belong together; return the material with its pin. */
export function loadTls(certPem: string, keyPem: string): TlsMaterial {
  let certSpki: Uint8Array;
  let keySpki: Uint8Array;
  try {
    certSpki = spkiOfCertificate(certPem);
  } catch {
    throw new HushError("invalid_request", "--tls-cert: not a PEM certificate");
  }
  try {
    keySpki = spkiOfPrivateKey(keyPem);
  } catch {
    throw new HushError("invalid_request", "--tls-key: not a PEM private key");
  }
  if (!equalBytes(certSpki, keySpki)) throw new HushError("invalid_request", "--tls-cert and --tls-key do not belong together");
  return { certPem, keyPem, pin: spkiPin(certSpki) };
}
