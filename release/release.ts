/**
 * One command for a hush release:
 *
 *   bun release/release.ts [--out dist/release] [--targets linux-x64,linux-arm64,…]
 *                          [--key-file minisign.key] [--quiet]
 *
 * 1. builds `hush` for every target with `buildBinary` (Bun cross-compilation;
 *    Bun fetches each target's runtime from the npm registry), with version and
 *    commit embedded and `.env` / `bunfig.toml` autoloading off:
 *      hush-<version>-linux-x64        hush-<version>-darwin-x64
 *      hush-<version>-linux-arm64      hush-<version>-darwin-arm64
 *      hush-<version>-linux-x64-musl   hush-<version>-windows-x64.exe
 * 2. packs the npm packages (release/npm.ts): `hush-broker-<version>.tgz` (SDK,
 *    built now with tsdown, and the `hush` launcher) and one
 *    `hush-broker-<platform>-<version>.tgz` per binary built;
 * 3. writes the CycloneDX 1.5 SBOM `hush-<version>.cdx.json` from package-lock.json;
 * 4. writes `SHA256SUMS` (sha256sum format) over the binaries, the tarballs and the SBOM;
 * 5. signs it into `SHA256SUMS.minisig` (minisign, Ed25519, prehashed), writes
 *    `minisign.pub`, and checks the signature before it reports success;
 * 6. prints a table of files and sizes, and the public key.
 *
 * The signing key is an unencrypted minisign secret key (`minisign -G -W`, or
 * `bun release/minisign.ts generate --secret-key-file FILE`) from --key-file
 * or the HUSH_RELEASE_KEY environment variable (the CI secret). Without one,
 * an ephemeral key is made for this run: it proves only that SHA256SUMS was
 * not changed after signing, nothing about who built it. The secret key is
 * never printed or written by this command.
 * @module
 */
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { buildBinary, buildSdk, commitId } from "./build.ts";
import { packNpmPackages } from "./npm.ts";
import { PACKAGE_NAME, PLATFORMS, PLATFORM_NAMES, platformPackage, type PlatformName } from "../src/client/platforms.ts";
import { encodePublicKey, formatPublicKeyFile, generateKeyPair, keyIdHex, loadReleaseKey, signFile, verifyFile, wipeKeyPair, type KeyPair } from "./minisign.ts";
import { buildSbom, type Lockfile } from "./sbom.ts";

const ROOT = resolve(import.meta.dir, "..");

/** Release targets (src/client/platforms.ts): our name → Bun compile target and file suffix. */
export const TARGETS = Object.fromEntries(
  PLATFORM_NAMES.map((t) => [t, { bun: `bun-${t}`, ext: PLATFORMS[t].exe.endsWith(".exe") ? ".exe" : "" }]),
) as Record<PlatformName, { bun: string; ext: "" | ".exe" }>;
export type TargetName = PlatformName;
export const ALL_TARGETS: TargetName[] = PLATFORM_NAMES;

export function artifactName(version: string, t: TargetName): string {
  return `hush-${version}-${t}${TARGETS[t].ext}`;
}

/** The npm tarballs of a release: the main package first, then one per target (`npm pack` names). */
export function tarballNames(version: string, targets: TargetName[]): string[] {
  return [`${PACKAGE_NAME}-${version}.tgz`, ...targets.map((t) => `${platformPackage(t)}-${version}.tgz`)];
}

export interface ReleaseOptions {
  out: string;
  targets: TargetName[];
  /** The signing key; undefined = ephemeral key for this run. */
  key?: KeyPair;
  version?: string;
  commit?: string;
  quiet?: boolean;
  /** Replaces buildBinary (tests of the signing and SBOM steps without compiling). */
  build?: (target: string, outfile: string, version: string, commit: string) => Promise<void>;
  /** Replaces buildSdk (those tests pack the dist/sdk that is there). */
  buildSdk?: () => Promise<void>;
}

export interface ReleaseFile {
  name: string;
  size: number;
  sha256: string;
}

export interface ReleaseResult {
  version: string;
  commit: string;
  out: string;
  /** Binaries, npm tarballs and SBOM, as listed in SHA256SUMS. */
  files: ReleaseFile[];
  publicKey: string;
  keyId: string;
  ephemeral: boolean;
  trustedComment: string;
  ms: { build: number; total: number };
}

/** Streaming SHA-256 of a file (hex). */
export async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  const reader = Bun.file(path).stream().getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) h.update(r.value);
  return h.digest("hex");
}

/** `sha256sum` output format: "<hex>  <name>\n" per file (two spaces = text mode, as GNU sha256sum writes). */
export function formatSha256Sums(files: ReleaseFile[]): string {
  return files.map((f) => `${f.sha256}  ${f.name}\n`).join("");
}

function log(quiet: boolean | undefined, msg: string): void {
  if (!quiet) console.error(msg);
}

export async function release(o: ReleaseOptions): Promise<ReleaseResult> {
  const t0 = performance.now();
  const version = o.version ?? pkg.version;
  const commit = o.commit ?? (await commitId());
  if (commit.endsWith("-dirty")) log(o.quiet, `hush: warning: the work tree has uncommitted changes; the binaries say commit ${commit}`);
  if (!o.targets.length) throw new Error("no targets");
  for (const t of o.targets) if (!(t in TARGETS)) throw new Error(`unknown target ${t} (known: ${ALL_TARGETS.join(", ")})`);
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const sbomName = `hush-${version}.cdx.json`;
  const names = o.targets.map((t) => artifactName(version, t));
  const tarballs = tarballNames(version, o.targets);
  for (const n of [...names, ...tarballs, sbomName, "SHA256SUMS", "SHA256SUMS.minisig", "minisign.pub"]) rmSync(join(out, n), { force: true });

  // 1. binaries, and the SDK beside them
  const build = o.build ?? ((target, outfile, v, c) => buildBinary({ target, outfile }, v, c));
  const sdk = (o.buildSdk ?? buildSdk)();
  for (const [i, t] of o.targets.entries()) {
    const t1 = performance.now();
    await build(TARGETS[t].bun, join(out, names[i]!), version, commit);
    if (!statSync(join(out, names[i]!), { throwIfNoEntry: false })) throw new Error(`the build for ${t} did not write ${names[i]}`);
    log(o.quiet, `hush: built ${names[i]} in ${Math.round(performance.now() - t1)} ms`);
  }
  await sdk;
  const buildMs = performance.now() - t0;

  // 2. npm packages
  const t2 = performance.now();
  const packed = await packNpmPackages({ root: ROOT, out, version, binaries: Object.fromEntries(o.targets.map((t, i) => [t, join(out, names[i]!)])) });
  if (packed.join() !== tarballs.join()) throw new Error(`npm pack wrote ${packed.join(", ")}, expected ${tarballs.join(", ")}`);
  log(o.quiet, `hush: packed ${packed.length} npm packages in ${Math.round(performance.now() - t2)} ms`);

  // 3. SBOM
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as Lockfile;
  const sbom = buildSbom({
    pkg,
    lock,
    commit,
    bunVersion: Bun.version,
    readPackageJson: (key) => {
      try {
        return JSON.parse(readFileSync(join(ROOT, key, "package.json"), "utf8"));
      } catch {
        return undefined;
      }
    },
  });
  await Bun.write(join(out, sbomName), JSON.stringify(sbom, null, 2) + "\n");

  // 4. SHA256SUMS
  const files: ReleaseFile[] = [];
  for (const n of [...names, ...tarballs, sbomName]) files.push({ name: n, size: statSync(join(out, n)).size, sha256: await sha256File(join(out, n)) });
  const sums = formatSha256Sums(files);
  await Bun.write(join(out, "SHA256SUMS"), sums);

  // 5. signature
  const ephemeral = !o.key;
  const kp = o.key ?? generateKeyPair();
  try {
    const trustedComment = `timestamp:${sourceEpoch()}\tfile:SHA256SUMS\thashed\thush ${version} commit ${commit}`;
    const sig = signFile(kp, new TextEncoder().encode(sums), {
      trustedComment,
      untrustedComment: `signature from hush release key ${keyIdHex(kp.keyId)}${ephemeral ? " (EPHEMERAL: proves nothing about origin)" : ""}`,
    });
    verifyFile(kp, new TextEncoder().encode(sums), sig);
    await Bun.write(join(out, "SHA256SUMS.minisig"), sig);
    await Bun.write(join(out, "minisign.pub"), formatPublicKeyFile(kp));
    return {
      version,
      commit,
      out,
      files,
      publicKey: encodePublicKey(kp),
      keyId: keyIdHex(kp.keyId),
      ephemeral,
      trustedComment,
      ms: { build: Math.round(buildMs), total: Math.round(performance.now() - t0) },
    };
  } finally {
    if (ephemeral) wipeKeyPair(kp);
  }
}

function sourceEpoch(): number {
  const e = process.env.SOURCE_DATE_EPOCH;
  return e && /^\d+$/.test(e) ? Number(e) : Math.floor(Date.now() / 1000);
}

/** 112.5 MB, 5 kB, 300 B: a small file (the SBOM) must not read "0.0 MB". */
function mb(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return n >= 1e3 ? `${Math.round(n / 1e3)} kB` : `${n} B`;
}

/** The release folder as a `cd` argument that works from here. */
function cdPath(out: string): string {
  const rel = relative(process.cwd(), out);
  const p = rel === "" ? "." : rel.startsWith("..") || isAbsolute(rel) ? resolve(out) : rel;
  return /^[\w./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** The human summary printed at the end of a release. */
export function formatSummary(r: ReleaseResult): string {
  const w = Math.max(...r.files.map((f) => f.name.length), "SHA256SUMS.minisig".length);
  const rows = r.files.map((f) => `  ${f.name.padEnd(w)}  ${mb(f.size).padStart(9)}  sha256:${f.sha256.slice(0, 16)}…`);
  return [
    `hush ${r.version} (commit ${r.commit}) → ${r.out}  [${r.ms.total} ms; builds ${r.ms.build} ms]`,
    ...rows,
    `  ${"SHA256SUMS".padEnd(w)}`,
    `  ${"SHA256SUMS.minisig".padEnd(w)}  signed by key ${r.keyId}${r.ephemeral ? " (ephemeral)" : ""}`,
    `  ${"minisign.pub".padEnd(w)}`,
    ``,
    `minisign public key: ${r.publicKey}`,
    `verify: cd ${cdPath(r.out)} && sha256sum -c --ignore-missing SHA256SUMS && minisign -Vm SHA256SUMS -P ${r.publicKey}`,
    ``,
  ].join("\n");
}

function usage(): string {
  return [
    "usage: bun release/release.ts [--out DIR] [--targets LIST] [--key-file FILE] [--quiet]",
    "",
    `  --out DIR        where the release goes (default dist/release)`,
    `  --targets LIST   comma-separated, default all: ${ALL_TARGETS.join(",")}`,
    `  --key-file FILE  unencrypted minisign secret key (minisign -G -W); default $HUSH_RELEASE_KEY,`,
    `                   else an ephemeral key for this run (proves nothing about origin)`,
    "",
    "  A new release key: bun release/minisign.ts generate --secret-key-file FILE",
  ].join("\n");
}

export function parseArgs(argv: string[]): { out: string; targets: TargetName[]; keyFile?: string; quiet: boolean; help: boolean } {
  const r = { out: "dist/release", targets: ALL_TARGETS, keyFile: undefined as string | undefined, quiet: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--out") r.out = value();
    else if (flag === "--targets") {
      const v = value();
      r.targets = v === "all" ? ALL_TARGETS : (v.split(",").map((s) => s.trim().replace(/^bun-/, "")).filter(Boolean) as TargetName[]);
      for (const t of r.targets) if (!(t in TARGETS)) throw new Error(`unknown target ${t} (known: ${ALL_TARGETS.join(", ")})`);
    } else if (flag === "--key-file") r.keyFile = value();
    else if (flag === "--quiet" || flag === "-q") r.quiet = true;
    else if (flag === "--help" || flag === "-h") r.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return r;
}

if (import.meta.main) {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`hush: error: ${(e as Error).message}\n${usage()}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(usage());
    process.exit(0);
  }
  const outDir = resolve(args.out); // relative to where the command was started
  process.chdir(ROOT); // buildBinary's entry point is relative to the repository root
  let key: KeyPair | undefined;
  try {
    key = loadReleaseKey(args.keyFile);
  } catch (e) {
    console.error(`hush: error: cannot load the release key: ${(e as Error).message}`);
    process.exit(2);
  }
  delete process.env.HUSH_RELEASE_KEY;
  try {
    const r = await release({ out: outDir, targets: args.targets, key, quiet: args.quiet });
    process.stdout.write(formatSummary(r));
    if (r.ephemeral) {
      console.error(
        "hush: warning: signed with an EPHEMERAL key made for this run. It proves nothing about who built\n" +
          "hush: warning: these files; publish releases signed with the real key (HUSH_RELEASE_KEY CI secret or --key-file).",
      );
    }
  } catch (e) {
    console.error(`hush: error: ${(e as Error).message}`);
    process.exit(1);
  } finally {
    if (key) wipeKeyPair(key);
  }
}
