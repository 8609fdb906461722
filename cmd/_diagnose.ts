/**
 * A second look at a failure before it is reported, for mistakes the error
 * itself cannot name: a `--url` with the wrong scheme for the port it points
 * at (`http://` to the TLS port answers with a reset, `https://` to a plain
 * loopback port with a handshake failure, or is refused for want of a TLS
 * pin when the credential came from a daemon without TLS). The probe sends nothing but a TLS
 * ClientHello or an unauthenticated `GET /v1/health`; no credential, token
 * or value is involved.
 * @module
 */
import { connect } from "node:tls";
import { HushError } from "../src/errors.ts";

const PROBE_MS = 2_000;

/** The `--url` the user gave (flag first, then $HUSH_URL unless --socket beat it; cmd/_target.ts). */
function urlOf(own: string[]): string | undefined {
  for (let i = 0; i < own.length; i++) {
    if (own[i] === "--url") return own[i + 1];
    if (own[i].startsWith("--url=")) return own[i].slice(6);
  }
  if (own.some((a) => a === "--socket" || a.startsWith("--socket="))) return undefined;
  return process.env.HUSH_URL || undefined;
}

/** Does HOST:PORT complete a TLS handshake? */
function speaksTls(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host, port, rejectUnauthorized: false, servername: /^[\d.:]+$/.test(host) ? undefined : host });
    const done = (v: boolean) => (clearTimeout(t), s.destroy(), res(v));
    const t = setTimeout(() => done(false), PROBE_MS);
    s.once("secureConnect", () => done(true));
    s.once("error", () => done(false));
  });
}

/** Does HOST:PORT answer plain HTTP? */
async function speaksHttp(u: URL): Promise<boolean> {
  try {
    await fetch(`http://${u.host}/v1/health`, { signal: AbortSignal.timeout(PROBE_MS) });
    return true;
  } catch {
    return false;
  }
}

/** Return `e`, with a hint added when the URL's scheme does not match what its port speaks. */
export async function diagnose(e: unknown, own: string[]): Promise<unknown> {
  if (!(e instanceof HushError)) return e;
  // https:// without a pin is refused before anything is sent; the port may not speak TLS at all.
  const noPin = e.message.startsWith("no TLS pin");
  if (!noPin && (e.detail.hint || !(e.detail.connect || e.code === "unavailable"))) return e;
  const raw = urlOf(own);
  // A list of daemons: the error already names each address and why it failed.
  if (raw?.includes(",")) return e;
  let u: URL;
  try {
    u = new URL(raw ?? "");
  } catch {
    return e;
  }
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (u.protocol === "http:" && (await speaksTls(host, Number(u.port || 80)))) {
    return new HushError(e.code, `${u.host} answered with TLS, not plain HTTP`, { ...e.detail, hint: `use --url https://${u.host} (the controller's TLS port)` });
  }
  if (u.protocol === "https:" && (await speaksHttp(u))) {
    return new HushError(noPin ? "invalid_request" : e.code, `${u.host} is a plain HTTP port, not TLS`, {
      ...e.detail,
      hint: `that daemon runs --insecure-loopback without TLS: use --url http://${u.host}`,
    });
  }
  return e;
}
