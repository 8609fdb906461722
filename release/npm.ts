/**
 * The npm packages of a release, packed as tarballs beside the binaries
 * (the way esbuild, Biome and Bun ship native binaries through npm):
 *
 *   hush-broker-<version>.tgz               the SDK (dist/sdk) and the `hush` launcher;
 *                                           optionalDependencies: every platform package
 *   hush-broker-<platform>-<version>.tgz    bin/hush of one platform, with npm's
 *                                           `os`, `cpu` and `libc` fields
 *
 * npm installs only the platform package that matches the machine; the
 * launcher finds it with Node's module resolution (src/client/binary.ts), so
 * no install script is needed. The main package's manifest is the
 * repository's package.json without what only a source checkout needs
 * (scripts, dependencies: the SDK bundles them, the binary embeds them).
 * @module
 */
import { copyFileSync, cpSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PACKAGE_NAME, PLATFORMS, PLATFORM_NAMES, platformPackage, type Platform, type PlatformName } from "../src/client/platforms.ts";

type Manifest = Record<string, unknown>;

/** The published package.json of the main package, from the repository's. */
export function mainManifest(root: Manifest, version: string): Manifest {
  const { private: _p, scripts: _s, devDependencies: _d, dependencies: _deps, files: _f, ...rest } = root;
  if (rest.name !== PACKAGE_NAME) throw new Error(`package.json names ${String(rest.name)}, not ${PACKAGE_NAME}`);
  return {
    ...rest,
    version,
    files: ["dist/sdk", "README.md", "SECURITY.md"],
    optionalDependencies: Object.fromEntries(PLATFORM_NAMES.map((p) => [platformPackage(p), version])),
  };
}

/** The package.json of the platform package for `p`. */
export function platformManifest(root: Manifest, p: PlatformName, version: string): Manifest {
  const pl: Platform = PLATFORMS[p];
  return {
    name: platformPackage(p),
    version,
    description: `The hush binary for ${pl.label}; installed by ${PACKAGE_NAME}`,
    license: root.license,
    ...(root.repository ? { repository: root.repository } : {}),
    os: [pl.os],
    cpu: [pl.cpu],
    ...(pl.libc ? { libc: [pl.libc] } : {}),
    files: ["bin"],
    preferUnplugged: true,
  };
}

/** `npm pack DIR` into `out`; returns the tarball's file name. */
async function npmPack(dir: string, out: string): Promise<string> {
  const p = Bun.spawn(["npm", "pack", dir, "--pack-destination", out, "--ignore-scripts", "--json"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`npm pack ${dir} failed (${code}): ${stderr.trim()}`);
  return (JSON.parse(stdout) as { filename: string }[])[0]!.filename;
}

export interface NpmPackagesOptions {
  root: string;
  out: string;
  version: string;
  /** The built binary of each platform to pack. */
  binaries: Partial<Record<PlatformName, string>>;
}

/**
 * Stage and pack the main package (from `root`'s dist/sdk, README.md,
 * SECURITY.md and package.json) and one platform package per binary, in
 * parallel. Returns the tarball names, main package first.
 */
export async function packNpmPackages(o: NpmPackagesOptions): Promise<string[]> {
  const stage = mkdtempSync(join(tmpdir(), "hush-npm-"));
  try {
    const rootManifest = (await Bun.file(join(o.root, "package.json")).json()) as Manifest;
    const main = join(stage, PACKAGE_NAME);
    mkdirSync(join(main, "dist"), { recursive: true });
    cpSync(join(o.root, "dist", "sdk"), join(main, "dist", "sdk"), { recursive: true });
    for (const f of ["README.md", "SECURITY.md"]) copyFileSync(join(o.root, f), join(main, f));
    writeFileSync(join(main, "package.json"), JSON.stringify(mainManifest(rootManifest, o.version), null, 2) + "\n");
    const dirs = [main];
    for (const [p, binary] of Object.entries(o.binaries) as [PlatformName, string][]) {
      const dir = join(stage, platformPackage(p));
      mkdirSync(join(dir, "bin"), { recursive: true });
      const dest = join(dir, "bin", PLATFORMS[p].exe);
      try {
        linkSync(binary, dest); // 100 MB: a hard link when the file system allows it
      } catch {
        copyFileSync(binary, dest);
      }
      writeFileSync(join(dir, "package.json"), JSON.stringify(platformManifest(rootManifest, p, o.version), null, 2) + "\n");
      writeFileSync(join(dir, "README.md"), `# ${platformPackage(p)}\n\nThe \`hush\` binary for ${PLATFORMS[p].label}. Install [${PACKAGE_NAME}](https://www.npmjs.com/package/${PACKAGE_NAME}) instead: it depends on this package on this platform only.\n`);
      dirs.push(dir);
    }
    return await Promise.all(dirs.map((d) => npmPack(d, o.out)));
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
