/**
 * Compressed request bodies on the SDK's side (PROTOCOL.md §1, "Compressed
 * bodies"): a JSON body at or above a size threshold is sent gzip- or
 * zstd-compressed with `Content-Encoding`, and the request signature covers
 * the bytes as sent. A body is sent as it is when compressing does not pay,
 * or when it compresses better than the daemon's ratio cap (`--max-inflate-
 * ratio`, at most 10): the daemon would refuse it (`too_large`), and sent
 * uncompressed it is accepted.
 *
 * Off by default in the SDK (`compress: false`): over a unix socket it costs
 * CPU and saves nothing a user can measure, and over a network a body that
 * mixes a secret with data someone else chooses leaks, through its
 * compressed length, how much the two have in common (the CRIME/BREACH kind
 * of side channel), to anyone who sees the sizes of the TLS records.
 * @module
 */
import * as zlib from "node:zlib";
import { HushError } from "../errors.ts";

export type Coding = "gzip" | "zstd";

export interface CompressOptions {
  coding: Coding;
  /** Smallest body (bytes of JSON) that is compressed. Default 1024. */
  thresholdBytes?: number | undefined;
  /**
   * The daemon's `--max-inflate-ratio` (1 to 10; default 10): a body that
   * would inflate by more than this is sent uncompressed.
   */
  maxRatio?: number | undefined;
}

/** The SDK option: a coding with the defaults, a full `CompressOptions`, or false (off). */
export type CompressOption = Coding | CompressOptions | false | undefined;

export interface Compressor {
  /** `text` as it goes on the wire, and the `Content-Encoding` to send with it (none: as it is). */
  encode(text: string): Encoded;
}

/** A body as it goes on the wire, and its `Content-Encoding` (none: as it is). */
export interface Encoded {
  body: string | Uint8Array<ArrayBuffer>;
  encoding?: Coding;
}

const DEFAULT_THRESHOLD = 1024;
const DEFAULT_RATIO = 10;

/**
 * A compressor for `option`, or undefined when it is off.
 * Throws HushError `invalid_request` for an unknown coding, a threshold
 * that is not a non-negative integer, a ratio outside 1…10, and zstd on a
 * runtime without it (Node before 22.15: use gzip).
 */
export function compressor(option: CompressOption): Compressor | undefined {
  if (option === undefined || option === false) return undefined;
  const o: CompressOptions = typeof option === "string" ? { coding: option } : option;
  const threshold = o.thresholdBytes ?? DEFAULT_THRESHOLD;
  const maxRatio = o.maxRatio ?? DEFAULT_RATIO;
  if (!Number.isSafeInteger(threshold) || threshold < 0) throw new HushError("invalid_request", `compress.thresholdBytes must be a non-negative integer, got ${threshold}`);
  if (!(maxRatio >= 1 && maxRatio <= DEFAULT_RATIO)) throw new HushError("invalid_request", `compress.maxRatio must be 1 to 10 (the daemon's --max-inflate-ratio), got ${maxRatio}`);
  const deflate = codec(o.coding);
  return {
    encode(text) {
      if (text.length < threshold) return { body: text };
      const raw = Buffer.from(text, "utf8");
      if (raw.length < threshold) return { body: text };
      const z = deflate(raw);
      // Not smaller, or past the ratio cap (the daemon would refuse it): as it is.
      if (z.length >= raw.length || raw.length > z.length * maxRatio) return { body: text };
      return { body: new Uint8Array(z), encoding: o.coding };
    },
  };
}

function codec(coding: Coding): (raw: Buffer) => Buffer {
  if (coding === "gzip") return (raw) => zlib.gzipSync(raw);
  if (coding === "zstd") {
    const zstd = (zlib as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync;
    if (typeof zstd !== "function") throw new HushError("invalid_request", "compress: zstd is not available in this runtime (Node 22.15 or later, or Bun); use gzip");
    return (raw) => zstd(raw);
  }
  throw new HushError("invalid_request", `compress must be "gzip", "zstd" or false, got ${JSON.stringify(coding)}`);
}
