/**
 * Join rate limits (PROTOCOL.md §5 "Rate limits"): token buckets per
 * source, per network and for everyone, charged in that order; a bucket
 * that refuses leaves the later ones uncharged.
 *
 * - source: an IPv4 address, or an IPv6 /64 (one host's usual allocation,
 *   so the 2^64 addresses of one /64 are one caller); IPv4-mapped IPv6
 *   addresses count as IPv4;
 * - network: an IPv4 /24, or an IPv6 /48 (one site);
 * - global: every join on every listener.
 *
 * No source may take more than a quarter, and no network more than half,
 * of the global budget (rate and burst): a flood from one host or one
 * network leaves room for the others. On a unix socket callers cannot be
 * told apart, so only the global bucket applies there.
 * @module
 */
import { RateLimiter } from "./ratelimit.ts";

/** Joins per second and bursts (DaemonConfig.joinRate); the network rate defaults to 4 × the source rate. */
export interface JoinRate {
  global: number;
  globalBurst: number;
  perSource: number;
  perSourceBurst: number;
  perNetwork?: number;
  perNetworkBurst?: number;
}

/** The parts of the global budget one source and one network may take. */
const SOURCE_SHARE = 1 / 4;
const NETWORK_SHARE = 1 / 2;

export class JoinLimiter {
  readonly global: RateLimiter;
  readonly perSource: RateLimiter;
  readonly perNetwork: RateLimiter;

  constructor(r: JoinRate, now?: () => number) {
    const share = (own: number, of: number, part: number) => (of > 0 ? Math.min(own, Math.max(1, of * part)) : own);
    const net = r.perNetwork ?? 4 * r.perSource;
    const netBurst = r.perNetworkBurst ?? 4 * r.perSourceBurst;
    this.global = new RateLimiter(r.global, r.globalBurst, now);
    this.perSource = new RateLimiter(share(r.perSource, r.global, SOURCE_SHARE), Math.floor(share(r.perSourceBurst, r.globalBurst, SOURCE_SHARE)), now);
    this.perNetwork = new RateLimiter(share(net, r.global, NETWORK_SHARE), Math.floor(share(netBurst, r.globalBurst, NETWORK_SHARE)), now);
  }

  /** Forget the sources and networks whose buckets have refilled. */
  prune(): void {
    this.perSource.prune();
    this.perNetwork.prune();
    this.global.prune();
  }

  /** Take one join for the peer `address` ("unix" on a unix socket): 0 when allowed, else seconds to wait. */
  take(address: string): number {
    const s = address === "unix" ? null : sourceOf(address);
    if (s) {
      const wait = this.perSource.take(s.source) || this.perNetwork.take(s.network);
      if (wait > 0) return wait;
    }
    return this.global.take("*");
  }
}

/** The source and network an address belongs to: `1.2.3.4` + `1.2.3.0/24`, or `2001:db8:0:1::/64` + `2001:db8:0::/48`. */
export function sourceOf(address: string): { source: string; network: string } {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(address);
  if (v4) return { source: v4.slice(1).join("."), network: `${v4[1]}.${v4[2]}.${v4[3]}.0/24` };
  const h = expandIPv6(address);
  if (!h) return { source: address, network: address };
  if (h[0] === 0 && h[1] === 0 && h[2] === 0 && h[3] === 0 && h[4] === 0 && h[5] === 0xffff) {
    const ip = `${h[6] >> 8}.${h[6] & 255}.${h[7] >> 8}.${h[7] & 255}`;
    return { source: ip, network: `${h[6] >> 8}.${h[6] & 255}.${h[7] >> 8}.0/24` };
  }
  const hex = (n: number) => h.slice(0, n).map((x) => x.toString(16)).join(":");
  return { source: `${hex(4)}::/64`, network: `${hex(3)}::/48` };
}

/** The eight 16-bit groups of an IPv6 address (RFC 4291 §2.2 text forms, zone id ignored), or null. */
export function expandIPv6(address: string): number[] | null {
  let a = address.replace(/^\[|\]$/g, "");
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  const tail: number[] = [];
  const m = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (m) {
    const b = m.slice(2).map(Number);
    if (b.some((x) => x > 255)) return null;
    tail.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
    a = m[1].endsWith("::") ? m[1] : m[1].slice(0, -1);
  }
  const halves = a.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const groups = head.length + rest.length + tail.length;
  if (halves.length === 1 ? groups !== 8 : groups > 7) return null;
  const out = [...head, ...new Array(8 - groups).fill(0), ...rest, ...tail];
  return out.some((x) => Number.isNaN(x)) ? null : out;
}
