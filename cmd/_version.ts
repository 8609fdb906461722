/**
 * Version and commit, embedded at build time by release/build.ts
 * (`--define`); "dev" when running from source.
 * @module
 */
declare const HUSH_VERSION: string | undefined;
declare const HUSH_COMMIT: string | undefined;

export const VERSION: string = typeof HUSH_VERSION === "string" ? HUSH_VERSION : "0.1.0-dev";
export const COMMIT: string = typeof HUSH_COMMIT === "string" ? HUSH_COMMIT : "unknown";
