/**
 * Build hush.
 *   bun release/build.ts            → dist/hush (this host) + dist/client.mjs (SDK for Node ≥ 20)
 *   bun release/build.ts --sdk-only → only dist/client.mjs
 *
 * The compiled binary never auto-loads `.env` or `bunfig.toml` from the
 * working directory (DESIGN.md): a file in the current directory must not
 * change a security tool's configuration.
 * @module
 */
import { $ } from "bun";
import pkg from "../package.json" with { type: "json" };

export interface BuildTarget {
  /** Bun compile target, e.g. "bun-linux-x64"; undefined = this host. */
  target?: string;
  outfile: string;
}

/** The commit hush is built from (12 hex digits, "-dirty" with uncommitted changes), or "unknown". */
export async function commitId(): Promise<string> {
  try {
    const c = (await $`git rev-parse --short=12 HEAD`.quiet().text()).trim();
    const dirty = (await $`git status --porcelain --untracked-files=no`.quiet().text()).trim() ? "-dirty" : "";
    return c + dirty;
  } catch {
    return "unknown";
  }
}

export async function buildBinary(t: BuildTarget, version = pkg.version, commit?: string): Promise<void> {
  commit ??= await commitId();
  const r = await Bun.build({
    entrypoints: ["./cmd/main.ts"],
    minify: true,
    bytecode: true,
    format: "esm",
    define: { HUSH_VERSION: JSON.stringify(version), HUSH_COMMIT: JSON.stringify(commit) },
    compile: {
      ...(t.target ? { target: t.target as any } : {}),
      outfile: t.outfile,
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  } as any);
  if (!r.success) {
    for (const l of r.logs) console.error(l);
    throw new Error(`build failed for ${t.target ?? "host"}`);
  }
}

/** The SDK as one ESM file for Node ≥ 20 (test runners: jest, vitest, Playwright). */
export async function buildSdk(outfile = "dist/client.mjs"): Promise<void> {
  // `ws` stays a runtime dependency of the package (its optional native add-ons are found at run time).
  const r = await Bun.build({ entrypoints: ["./src/client/index.ts"], target: "node", format: "esm", outdir: "dist", naming: "client.mjs", external: ["ws"] });
  if (!r.success) {
    for (const l of r.logs) console.error(l);
    throw new Error("SDK build failed");
  }
  void outfile;
}

if (import.meta.main) {
  const sdkOnly = process.argv.includes("--sdk-only");
  const t0 = performance.now();
  await buildSdk();
  if (!sdkOnly) await buildBinary({ outfile: "dist/hush" });
  if (!process.argv.includes("--quiet")) {
    console.error(`hush: built ${sdkOnly ? "" : "dist/hush and "}dist/client.mjs in ${Math.round(performance.now() - t0)} ms`);
  }
}
