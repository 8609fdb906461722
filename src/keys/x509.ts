/**
 * A minimal DER writer for one fixed template: a self-signed X.509 v3
 * certificate (RFC 5280) for an ECDSA P-256 key, with subjectAltName
 * (dNSName / iPAddress), basicConstraints CA:TRUE (so it can be its own
 * trust anchor), keyUsage and extKeyUsage serverAuth. The signature comes
 * from a callback (src/crypto); nothing here is cryptography. Checked
 * against `openssl x509` / `openssl verify` in tests.
 * @module
 */
import { isIP } from "node:net";
import { concatBytes } from "../crypto/index.ts";

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const b: number[] = [];
  while (n > 0) {
    b.unshift(n & 0xff);
    n >>= 8;
  }
  return [0x80 | b.length, ...b];
}

function tlv(tag: number, body: Uint8Array | number[]): Uint8Array {
  const b = body instanceof Uint8Array ? body : Uint8Array.from(body);
  const h = [tag, ...len(b.length)];
  const out = new Uint8Array(h.length + b.length);
  out.set(h, 0);
  out.set(b, h.length);
  return out;
}


const seq = (...p: Uint8Array[]) => tlv(0x30, concatBytes(...p));
const set = (...p: Uint8Array[]) => tlv(0x31, concatBytes(...p));
const octets = (b: Uint8Array) => tlv(0x04, b);
const utf8str = (s: string) => tlv(0x0c, new TextEncoder().encode(s));
const bool = (v: boolean) => tlv(0x01, [v ? 0xff : 0]);

function oid(s: string): Uint8Array {
  const p = s.split(".").map(Number);
  const out = [40 * p[0]! + p[1]!];
  for (const v of p.slice(2)) {
    const b = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) b.unshift(0x80 | (x & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, out);
}

function integer(bytes: Uint8Array): Uint8Array {
  let b = [...bytes];
  while (b.length > 1 && b[0] === 0 && b[1]! < 0x80) b.shift();
  if (b[0]! >= 0x80) b = [0, ...b];
  return tlv(0x02, b);
}

function time(d: Date): Uint8Array {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z"; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, new TextEncoder().encode(iso.slice(2))) : tlv(0x18, new TextEncoder().encode(iso));
}

function ipBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return Uint8Array.from(ip.split(".").map(Number));
  const [head, tail] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail ? tail.split(":") : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

export interface SelfSignedOptions {
  hosts: string[];
  spki: Uint8Array;
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  commonName?: string;
  sign: (tbs: Uint8Array) => Uint8Array;
}

/** DER of a self-signed certificate. */
export function buildSelfSignedCert(o: SelfSignedOptions): Uint8Array {
  const name = seq(set(seq(oid("2.5.4.3"), utf8str(o.commonName ?? "hush"))));
  const san = seq(
    ...o.hosts.map((h) => (isIP(h) ? tlv(0x87, ipBytes(h)) : tlv(0x82, new TextEncoder().encode(h)))),
  );
  const exts = tlv(
    0xa3,
    seq(
      seq(oid("2.5.29.17"), octets(san)),
      seq(oid("2.5.29.19"), bool(true), octets(seq(bool(true)))),
      seq(oid("2.5.29.15"), bool(true), octets(tlv(0x03, [0x05, 0xa0]))), // digitalSignature, keyCertSign
      seq(oid("2.5.29.37"), octets(seq(oid("1.3.6.1.5.5.7.3.1")))),
    ),
  );
  const tbs = seq(
    tlv(0xa0, integer(Uint8Array.of(2))),
    integer(o.serial),
    ECDSA_SHA256,
    name,
    seq(time(o.notBefore), time(o.notAfter)),
    name,
    o.spki,
    exts,
  );
  const sig = o.sign(tbs);
  return seq(tbs, ECDSA_SHA256, tlv(0x03, concatBytes(Uint8Array.of(0), sig)));
}

export function toPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const b64 = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
