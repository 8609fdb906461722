/**
 * Who may hold WebSocket connections, and for how long (src/server/ws.ts,
 * PROTOCOL.md §4 "The WebSocket transport"), so that one source cannot
 * lock the others out of the transport.
 *
 * A connection's **source** is what the failure accounting uses
 * (src/server/failures.ts): an IPv4 address or an IPv6 /64 on the TCP
 * listener, `unix` for every caller on `hush.sock`. A connection is
 * **verified** once a message on it has passed request verification
 * (PROTOCOL.md §3).
 *
 * - per source on the TCP listener, at most `maxConnectionsPerSource` open
 *   connections. The unix socket is one source for every local caller (all
 *   of them the daemon's user or its socket group), so a per-source cap
 *   there would let one of them lock out the rest; it has none, and relies
 *   on the two rules below;
 * - unverified connections hold at most `maxConnections − reserve`
 *   (reserve: a quarter of `maxConnections`, rounded down; at least one
 *   connection may always be unverified): the rest is kept
 *   for connections that carried a verified request, so a flood of
 *   unverified upgrades never closes the transport to workers already on it;
 * - a connection that has not carried a verified request within
 *   `verifyTimeoutMs` of opening, or that carried only failing messages for
 *   that long since its last verified one, is closed (ws.ts's sweep; 4000);
 * - refused upgrades are answered 503 `busy` and counted
 *   (`hush_rejected_total{reason="ws_connections"|"ws_source"|"ws_unverified"}`);
 *   the first is logged at once and then at most one `warn` line per
 *   `LOG_EVERY_MS` (10 s), with the count since the last line.
 *
 * Clients (src/client/transport-ws.ts) answer a refused upgrade by sending
 * the call, and those of the next 30 s, over HTTP.
 * @module
 */
import { FailureLedger } from "./failures.ts";
import type { Listener } from "./pipeline.ts";
import type { WsLimits } from "../config/index.ts";
import type { Logger } from "../observe/index.ts";

/** At most one log line about refused upgrades per this many ms. */
export const LOG_EVERY_MS = 10_000;

/** What a guard knows of one connection (part of ws.ts's connection data). */
export interface Guarded {
  source: string;
  /** Date.now() at open. */
  opened: number;
  /** Date.now() of the last verified message; 0 = none yet. */
  verifiedAt: number;
  /** A message that failed verification came after the last verified one (or there was none). */
  failing: boolean;
}

/** A refused upgrade: the metric reason and the message of the `busy` answer. */
export interface Refusal {
  reason: "ws_connections" | "ws_source" | "ws_unverified";
  message: string;
}

export class WsGuard {
  private readonly perSource = new Map<string, number>();
  private unverified = 0;
  private open = 0;
  private refusedSinceLog = 0;
  private lastLog = -Infinity;

  constructor(
    private readonly lim: WsLimits,
    private readonly log: Pick<Logger, "warn">,
    private readonly now: () => number = Date.now,
  ) {}

  /** Connections that may be unverified at once. */
  get maxUnverified(): number {
    return Math.max(1, this.lim.maxConnections - Math.floor(this.lim.maxConnections / 4));
  }

  /**
   * Whether a new connection from `peer` on `listener` may open: its
   * `Guarded` fields, or why not (the caller answers 503 `busy`; it is
   * logged here, rate-limited).
   */
  admit(listener: Listener, peer: string): Guarded | Refusal {
    const source = FailureLedger.sourceOf(peer);
    let r: Refusal | null = null;
    if (this.open >= this.lim.maxConnections) r = { reason: "ws_connections", message: "too many WebSocket connections" };
    else if (this.unverified >= this.maxUnverified) r = { reason: "ws_unverified", message: "too many WebSocket connections that have not verified a request" };
    else if (listener === "tcp" && (this.perSource.get(source) ?? 0) >= this.lim.maxConnectionsPerSource) {
      r = { reason: "ws_source", message: "too many WebSocket connections from this address" };
    }
    if (r) {
      this.logRefusal(r, source);
      return r;
    }
    this.open++;
    this.unverified++;
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    return { source, opened: this.now(), verifiedAt: 0, failing: true };
  }

  /** A message on `g` verified (true) or failed verification (false). */
  saw(g: Guarded, verified: boolean): void {
    if (!verified) {
      g.failing = true;
      return;
    }
    if (g.verifiedAt === 0) this.unverified--;
    g.verifiedAt = this.now();
    g.failing = false;
  }

  /** Whether `g` is past its time to carry a verified request. */
  overdue(g: Guarded, now: number): boolean {
    return g.failing && now - (g.verifiedAt || g.opened) >= this.lim.verifyTimeoutMs;
  }

  /** `g` closed (once per admitted connection). */
  closed(g: Guarded): void {
    this.open--;
    if (g.verifiedAt === 0) this.unverified--;
    const n = (this.perSource.get(g.source) ?? 1) - 1;
    if (n > 0) this.perSource.set(g.source, n);
    else this.perSource.delete(g.source);
  }

  private logRefusal(r: Refusal, source: string): void {
    this.refusedSinceLog++;
    const now = this.now();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    this.log.warn("WebSocket upgrades refused", {
      reason: r.reason.slice(3),
      source,
      refused: this.refusedSinceLog,
      open: this.open,
      unverified: this.unverified,
      hint: "clients fall back to HTTP; see hush_rejected_total and hush_ws_connections",
    });
    this.refusedSinceLog = 0;
    this.lastLog = now;
  }
}

/** Whether `admit` refused. */
export function isRefusal(x: Guarded | Refusal): x is Refusal {
  return "reason" in x;
}
