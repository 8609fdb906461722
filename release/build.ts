/**
 * Build hush.
 *   bun release/build.ts            → dist/hush (this host) + dist/sdk (SDK and launcher for Node ≥ 20)
 *   bun release/build.ts --sdk-only → only dist/sdk
 *
 * The SDK is built by tsdown (tsdown.config.ts) on Node: ESM and CommonJS
 * builds with their declaration files. The two builds run side by side.
 *
 * The compiled binary never auto-loads `.env` or `bunfig.toml` from the
 * working directory (DESIGN.md): a file in the current directory must not
 * change a security tool's configuration.
 * @module
 */
import { $ } from "bun";
import { join, resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };

const ROOT = resolve(import.meta.dir, "..");

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

/**
 * The SDK for Node ≥ 20 (test runners: jest, vitest, Playwright) into
 * dist/sdk: `tsdown` on Node, as configured in tsdown.config.ts.
 * Throws with tsdown's output when it fails.
 */
export async function buildSdk(): Promise<void> {
  const node = Bun.which("node");
  if (!node) throw new Error("the SDK build runs tsdown on Node.js, and `node` is not on PATH");
  const p = Bun.spawn([node, join(ROOT, "node_modules/tsdown/dist/run.mjs"), "--config", join(ROOT, "tsdown.config.ts")], {
    cwd: ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) {
    console.error(out + err);
    throw new Error(`SDK build failed (tsdown exit code ${code})`);
  }
}

if (import.meta.main) {
  const sdkOnly = process.argv.includes("--sdk-only");
  const t0 = performance.now();
  process.chdir(ROOT);
  try {
    await Promise.all([buildSdk(), sdkOnly ? undefined : buildBinary({ outfile: "dist/hush" })]);
  } catch (e) {
    console.error(`hush: error: ${(e as Error).message}`);
    process.exit(1);
  }
  if (!process.argv.includes("--quiet")) {
    console.error(`hush: built ${sdkOnly ? "" : "dist/hush and "}dist/sdk in ${Math.round(performance.now() - t0)} ms`);
  }
}
