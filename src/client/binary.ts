/**
 * Find the compiled `hush` binary that npm installed beside the SDK, for the
 * `hush` launcher (bin) and for `startDaemon`. No install script is involved
 * (npm may be told not to run them): the binary is a file in the platform
 * package that npm picked by `os`/`cpu`/`libc`, found with Node's module
 * resolution from this package, as esbuild's and Biome's launchers do.
 *
 * Order: `$HUSH_BINARY_PATH`; the platform package (its version must equal
 * this package's); `dist/hush` of a source checkout (a git dependency, whose
 * `prepare` script built it). Otherwise a HushError `unavailable` that names
 * the missing package.
 * @module
 */
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HushError } from "../errors.ts";
import { PACKAGE_NAME, PLATFORM_NAMES, PLATFORMS, hostPlatform, platformPackage, type PlatformName } from "./platforms.ts";

/** The main package's version, set by the SDK build (tsdown `define`); undefined when running from source. */
declare const HUSH_VERSION: string | undefined;
const SDK_VERSION: string | undefined = typeof HUSH_VERSION === "string" ? HUSH_VERSION : undefined;

export interface FindBinaryOptions {
  /** Default: process.env. Read: HUSH_BINARY_PATH. */
  env?: Record<string, string | undefined>;
  /** Default: this machine's platform (`hostPlatform()`). */
  platform?: PlatformName | undefined;
  /** A file URL or path inside the package to resolve from. Default: this module. */
  from?: string;
}

function isFile(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
}

/**
 * The absolute path of the hush binary for this machine.
 * Throws HushError `unavailable` (detail: `{ package, hint }`) when there is
 * none, or `invalid_request` when HUSH_BINARY_PATH names a missing file.
 */
export function findBinary(opts: FindBinaryOptions = {}): string {
  const env = opts.env ?? process.env;
  const override = env.HUSH_BINARY_PATH;
  if (override) {
    if (!isFile(override)) throw new HushError("invalid_request", `HUSH_BINARY_PATH is ${override}, which is not a file`, { hint: "unset it to use the installed binary" });
    return override;
  }
  const from = opts.from ?? import.meta.url;
  const here = from.startsWith("file:") ? fileURLToPath(from) : from;
  const platform = "platform" in opts ? opts.platform : hostPlatform();
  if (platform === undefined) {
    throw new HushError("unavailable", `hush has no binary for ${process.platform}-${process.arch}${process.platform === "linux" ? " with this libc" : ""}`, {
      hint: `binaries exist for ${PLATFORM_NAMES.join(", ")}; elsewhere build from source (npm ci && npm run build) and set HUSH_BINARY_PATH`,
    });
  }
  const pkg = platformPackage(platform);
  let manifest: string | undefined;
  try {
    manifest = createRequire(here).resolve(`${pkg}/package.json`);
  } catch {}
  if (manifest) {
    const version = (JSON.parse(readFileSync(manifest, "utf8")) as { version?: string }).version;
    if (SDK_VERSION !== undefined && version !== SDK_VERSION) {
      throw new HushError("unavailable", `${pkg} is version ${version}, but ${PACKAGE_NAME} is ${SDK_VERSION}`, {
        package: pkg,
        hint: `install matching versions: npm install ${PACKAGE_NAME}@${SDK_VERSION} (the platform package comes with it)`,
      });
    }
    const bin = join(dirname(manifest), "bin", PLATFORMS[platform].exe);
    if (isFile(bin)) return bin;
  }
  // A source checkout (git dependency or `npm install /path/to/checkout`): dist/ sits two levels up.
  const built = join(dirname(here), "..", "..", "dist", PLATFORMS[platform].exe);
  if (isFile(built)) return built;
  throw new HushError("unavailable", `the hush binary for ${platform} is missing: the npm package ${pkg} is not installed`, {
    package: pkg,
    hint:
      `npm installs ${pkg} with ${PACKAGE_NAME} as an optional dependency; reinstall without --omit=optional ` +
      `(or --no-optional), or add it yourself: npm install ${pkg}${SDK_VERSION ? `@${SDK_VERSION}` : ""}`,
  });
}
