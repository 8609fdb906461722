/**
 * Logger: JSON Lines on stderr (`ts`, `level`, `msg`, `corr_id`, …), or a
 * readable line when stderr is a terminal. Every line passes through the
 * masker before it is written.
 * @module
 */
import { Masker } from "./mask.ts";

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: Level;
  format?: "json" | "text";
  write?: (line: string) => void;
  masker?: Masker;
}

export class Logger {
  readonly masker: Masker;
  private readonly min: number;
  private readonly format: "json" | "text";
  private readonly write: (line: string) => void;

  constructor(opts: LoggerOptions = {}) {
    this.masker = opts.masker ?? new Masker();
    this.min = ORDER[opts.level ?? "info"];
    this.format = opts.format ?? (process.stderr.isTTY ? "text" : "json");
    this.write = opts.write ?? ((l) => process.stderr.write(l + "\n"));
  }

  log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
    if (ORDER[level] < this.min) return;
    let line: string;
    if (this.format === "json") {
      line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields });
    } else {
      const kv = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ");
      line = `hush: ${level === "info" ? "" : level + ": "}${msg}${kv ? "  " + kv : ""}`;
    }
    this.write(this.masker.mask(line));
  }

  debug(msg: string, f?: Record<string, unknown>) { this.log("debug", msg, f); }
  info(msg: string, f?: Record<string, unknown>) { this.log("info", msg, f); }
  warn(msg: string, f?: Record<string, unknown>) { this.log("warn", msg, f); }
  error(msg: string, f?: Record<string, unknown>) { this.log("error", msg, f); }
}
