/**
 * Colour for the CLI's own output (help pages, error lines): only on a
 * terminal, and never when the user says no.
 *
 * The decision, in order (https://no-color.org, https://force-color.org):
 * `FORCE_COLOR=0` (or `false`) → no colour; `FORCE_COLOR` set to anything
 * else (`1`, `2`, `3`, `true`, empty) → colour, even into a pipe;
 * `NO_COLOR` set and not empty → no colour; `TERM=dumb` → no colour;
 * otherwise colour exactly when the stream is a terminal.
 * @module
 */

/** A stream that may be a terminal (process.stdout, process.stderr). */
export interface MaybeTty {
  isTTY?: boolean;
}

/** Should text written to `stream` carry ANSI colour codes? */
export function useColor(stream: MaybeTty, env: Record<string, string | undefined> = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force.toLowerCase() !== "false";
  if (env.NO_COLOR) return false;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

/** ANSI styles for one stream; every function is the identity when colour is off. */
export interface Palette {
  bold(s: string): string;
  dim(s: string): string;
  cyan(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  underline(s: string): string;
}

const sgr = (on: boolean, open: number, close: number) => (s: string) => (on ? `\x1b[${open}m${s}\x1b[${close}m` : s);

/** The palette for `stream` (decided once, when it is made). */
export function palette(stream: MaybeTty, env?: Record<string, string | undefined>): Palette {
  const on = useColor(stream, env);
  return {
    bold: sgr(on, 1, 22),
    dim: sgr(on, 90, 39),
    cyan: sgr(on, 36, 39),
    red: sgr(on, 31, 39),
    yellow: sgr(on, 33, 39),
    underline: sgr(on, 4, 24),
  };
}
