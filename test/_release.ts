/**
 * One real release per test process, shared by test/release (which checks
 * the release itself) and test/consumers (which installs its npm tarballs),
 * so the suite compiles and packs once: `bun release/release.ts` for
 * linux-x64 and linux-arm64 (the two this machine can run, natively and
 * under qemu), signed with a key made for the run. HUSH_RELEASE_TEST_ALL=1
 * builds all six targets.
 */
import { join, resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { formatSecretKeyFile, generateKeyPair, type KeyPair } from "../release/minisign.ts";
import { ALL_TARGETS, artifactName, tarballNames, type TargetName } from "../release/release.ts";
import { hostPlatform } from "../src/client/platforms.ts";
import { tempDir } from "./_tmp.ts";

export const ROOT = resolve(import.meta.dir, "..");
export const V = pkg.version;

export interface TestRelease {
  work: string;
  out: string;
  targets: TargetName[];
  key: KeyPair;
  secretKeyText: string;
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  /** Path of a built binary. */
  bin(t: TargetName): string;
  /** The main package's tarball, and this host's platform package's (undefined when not built). */
  tarballs: { main: string; host: string | undefined };
}

let made: Promise<TestRelease> | undefined;

/** Build (once per process) and return the test release; throws when the release command failed. */
export function testRelease(): Promise<TestRelease> {
  return (made ??= (async () => {
    const targets: TargetName[] = process.env.HUSH_RELEASE_TEST_ALL === "1" ? ALL_TARGETS : ["linux-x64", "linux-arm64"];
    const work = tempDir("hush-release-");
    const out = join(work, "dist");
    const key = generateKeyPair();
    const secretKeyText = formatSecretKeyFile(key);
    const t0 = performance.now();
    const p = Bun.spawn([process.execPath, "release/release.ts", "--out", out, "--targets", targets.join(",")], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", HUSH_RELEASE_KEY: secretKeyText },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    const ms = Math.round(performance.now() - t0);
    if (code !== 0) throw new Error(`release failed (${code}): ${stderr}`);
    console.error(`test: built the release (${targets.join(", ")}, npm tarballs) in ${ms} ms`);
    const host = hostPlatform();
    const names = tarballNames(V, targets);
    return {
      work,
      out,
      targets,
      key,
      secretKeyText,
      code,
      stdout,
      stderr,
      ms,
      bin: (t) => join(out, artifactName(V, t)),
      tarballs: { main: join(out, names[0]!), host: host && targets.includes(host) ? join(out, names[1 + targets.indexOf(host)]!) : undefined },
    };
  })());
}
