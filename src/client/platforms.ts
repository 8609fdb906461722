/**
 * The platforms hush ships a compiled binary for, and the npm package that
 * carries each one. One table, read by the release (which builds and packs
 * the binaries) and by the launcher and `startDaemon` (which find the one
 * that npm installed), so the two can never disagree on a name.
 *
 * npm installs only the platform package whose `os`, `cpu` and `libc` match
 * the machine (package.json `optionalDependencies`, the way esbuild, Biome
 * and Bun ship their binaries).
 * @module
 */

/** The npm name of hush's main package (SDK + launcher). */
export const PACKAGE_NAME = "hush-broker";

export interface Platform {
  /** npm `os` and Node's `process.platform`. */
  os: "linux" | "darwin" | "win32";
  /** npm `cpu` and Node's `process.arch`. */
  cpu: "x64" | "arm64";
  /** npm `libc` (Linux only). */
  libc?: "glibc" | "musl";
  /** The binary's file name inside the platform package's `bin/`. */
  exe: "hush" | "hush.exe";
  /** For humans: the README's platform column. */
  label: string;
}

export const PLATFORMS = {
  "linux-x64": { os: "linux", cpu: "x64", libc: "glibc", exe: "hush", label: "Linux x86-64 (glibc)" },
  "linux-arm64": { os: "linux", cpu: "arm64", libc: "glibc", exe: "hush", label: "Linux ARM64 (glibc)" },
  "linux-x64-musl": { os: "linux", cpu: "x64", libc: "musl", exe: "hush", label: "Linux x86-64 (musl, e.g. Alpine)" },
  "darwin-x64": { os: "darwin", cpu: "x64", exe: "hush", label: "macOS Intel" },
  "darwin-arm64": { os: "darwin", cpu: "arm64", exe: "hush", label: "macOS Apple silicon" },
  "windows-x64": { os: "win32", cpu: "x64", exe: "hush.exe", label: "Windows x86-64" },
} as const satisfies Record<string, Platform>;

export type PlatformName = keyof typeof PLATFORMS;
export const PLATFORM_NAMES = Object.keys(PLATFORMS) as PlatformName[];

/** The npm package that carries the binary for `p`, e.g. `hush-broker-linux-x64`. */
export function platformPackage(p: PlatformName): string {
  return `${PACKAGE_NAME}-${p}`;
}

/**
 * Whether this Linux process runs on musl libc: Node's diagnostic report
 * names the glibc version only when it runs on glibc (the check Biome's and
 * napi-rs's launchers use).
 */
export function isMusl(): boolean {
  if (process.platform !== "linux") return false;
  try {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return !report?.header?.glibcVersionRuntime;
  } catch {
    return false;
  }
}

/** The platform name for `os`/`cpu`/`musl`, or undefined when hush ships no binary for it. */
export function hostPlatform(os: string = process.platform, cpu: string = process.arch, musl: boolean = isMusl()): PlatformName | undefined {
  for (const name of PLATFORM_NAMES) {
    const p: Platform = PLATFORMS[name];
    if (p.os === os && p.cpu === cpu && (p.libc === undefined || (p.libc === "musl") === musl)) return name;
  }
  return undefined;
}
