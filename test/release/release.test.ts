/**
 * The release command end to end: `bun release/release.ts` builds real
 * binaries, and the tools users have check them: `minisign -Vm`,
 * `sha256sum -c`, the linux-x64 binary itself, the linux-arm64 binary under
 * qemu-user.
 *
 * Which targets are built here: linux-x64 and linux-arm64 only (about 3 s and
 * 225 MB, plus about 10 s to pack their npm packages; test/_release.ts builds
 * them once for this file and test/consumers). These are the two this machine can run (natively and under qemu).
 * The full matrix — add linux-x64-musl, darwin-x64, darwin-arm64 and
 * windows-x64 — is built only by the release command (about 7 s and 640 MB
 * with the runtimes cached; on a fresh machine Bun first downloads four more
 * ~40 MB runtimes from the npm registry), because this machine cannot run
 * those binaries, so building them here would test nothing but the download.
 * Their names and Bun targets are checked below without building, and the
 * signing and SBOM steps run over all six names with stand-in files.
 * HUSH_RELEASE_TEST_ALL=1 builds all six here too.
 *
 * Missing tools (minisign, qemu-aarch64, the arm64 loader) skip their test
 * with a printed reason; .ci/run installs them.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { encodePublicKey, generateKeyPair, parsePublicKey, verifyFile, type KeyPair } from "../../release/minisign.ts";
import { ALL_TARGETS, TARGETS, artifactName, parseArgs, release, tarballNames, type TargetName } from "../../release/release.ts";
import { ROOT, testRelease, V } from "../_release.ts";
import { tempDir } from "../_tmp.ts";

const MINISIGN = Bun.which("minisign");
const SHA256SUM = Bun.which("sha256sum");
const QEMU = process.arch === "arm64" ? undefined : (Bun.which("qemu-aarch64") ?? Bun.which("qemu-aarch64-static"));
const ARM64_SYSROOT = ["/usr/aarch64-linux-gnu"].find((d) => existsSync(join(d, "lib", "ld-linux-aarch64.so.1")));
const CAN_RUN_ARM64 = process.arch === "arm64" || (!!QEMU && !!ARM64_SYSROOT);
const CAN_RUN_X64 = process.platform === "linux" && process.arch === "x64";
const skip = (what: string, why: string) => console.warn(`test/release: skipping ${what}: ${why}`);
if (!MINISIGN) skip("minisign verification", "`minisign` is not installed (apt-get install minisign)");
if (!SHA256SUM) skip("sha256sum -c", "`sha256sum` is not installed (coreutils)");
if (!CAN_RUN_X64) skip("the linux-x64 smoke test", `this machine is ${process.platform}-${process.arch}`);
if (!CAN_RUN_ARM64) skip("the linux-arm64 run", !QEMU ? "qemu-aarch64 is not installed (apt-get install qemu-user)" : "the arm64 glibc loader is missing (apt-get install libc6-arm64-cross)");

let BUILT: TargetName[];
let work: string;
let out: string;
let key: KeyPair;
let secretKeyText: string;
let pub: string;
let run: { code: number; stdout: string; stderr: string; ms: number };

function spawn(cmd: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: "1", ...opts.env })) if (v !== undefined) env[k] = v;
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd ?? work, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
const bin = (t: TargetName) => join(out, artifactName(V, t));

beforeAll(async () => {
  const r = await testRelease();
  ({ targets: BUILT, work, out, key, secretKeyText } = r);
  pub = encodePublicKey(key);
  run = { code: r.code, stdout: r.stdout, stderr: r.stderr, ms: r.ms };
}, 240_000);

describe("release command", () => {
  test("writes the binaries, npm tarballs, SBOM, SHA256SUMS, its signature and minisign.pub; prints sizes and the public key", () => {
    const names = readdirSync(out).sort();
    expect(names).toEqual([...BUILT.map((t) => artifactName(V, t)), ...tarballNames(V, BUILT), `hush-${V}.cdx.json`, "SHA256SUMS", "SHA256SUMS.minisig", "minisign.pub"].sort());
    expect(run.stdout).toContain(`minisign public key: ${pub}`);
    for (const t of BUILT) expect(run.stdout).toMatch(new RegExp(`${artifactName(V, t)}\\s+\\d+\\.\\d MB`));
    expect(readFileSync(join(out, "minisign.pub"), "utf8").split("\n")[1]).toBe(pub);
    expect(run.stderr).not.toContain("EPHEMERAL");
    // A few kB, not "0.0 MB".
    expect(run.stdout).toMatch(new RegExp(`hush-${V.replace(/\./g, "\\.")}\\.cdx\\.json\\s+\\d+ kB`));
  });

  test.skipIf(!MINISIGN)("the printed verify line works as written, from where the release was made", () => {
    const line = run.stdout.split("\n").find((l) => l.startsWith("verify: "));
    expect(line).toBeDefined();
    const v = spawn(["sh", "-c", line!.slice("verify: ".length)], { cwd: ROOT });
    expect(v.code).toBe(0);
    expect(v.stdout).toContain(`${artifactName(V, BUILT[0])}: OK`);
  });

  test("the secret key appears in no output and no file", () => {
    const secretLine = secretKeyText.split("\n")[1];
    const seedB64 = Buffer.from(key.seed).toString("base64").slice(0, 40);
    const seedHex = Buffer.from(key.seed).toString("hex");
    for (const s of [run.stdout, run.stderr, ...readdirSync(out).filter((n) => !n.startsWith(`hush-${V}-`) && !n.endsWith(".tgz")) /* not the binaries and npm tarballs: compressed or compiled bytes */.map((n) => readFileSync(join(out, n), "utf8"))]) {
      expect(s).not.toContain(secretLine);
      expect(s).not.toContain(secretLine.slice(84, 124));
      expect(s).not.toContain(seedB64);
      expect(s).not.toContain(seedHex);
    }
  });

  test("SHA256SUMS is in sha256sum format over every binary, npm tarball and the SBOM", async () => {
    const lines = readFileSync(join(out, "SHA256SUMS"), "utf8").trimEnd().split("\n");
    expect(lines.map((l) => l.slice(66))).toEqual([...BUILT.map((t) => artifactName(V, t)), ...tarballNames(V, BUILT), `hush-${V}.cdx.json`]);
    for (const l of lines) {
      expect(l).toMatch(/^[0-9a-f]{64}  \S+$/);
      const h = new Bun.CryptoHasher("sha256").update(await Bun.file(join(out, l.slice(66))).arrayBuffer()).digest("hex");
      expect(l.slice(0, 64)).toBe(h);
    }
  });

  test.skipIf(!SHA256SUM)("(c) `sha256sum -c SHA256SUMS` passes", () => {
    const r = spawn([SHA256SUM!, "-c", "SHA256SUMS"], { cwd: out });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(2 * BUILT.length + 2);
    expect(r.stdout).not.toContain("FAILED");
  });

  test.skipIf(!MINISIGN)("(a) `minisign -Vm SHA256SUMS -P <pubkey>` verifies, and shows the version and commit", () => {
    const r = spawn([MINISIGN!, "-Vm", "SHA256SUMS", "-P", pub], { cwd: out });
    expect(r.stdout + r.stderr).toContain("Signature and comment signature verified");
    expect(r.stdout).toMatch(new RegExp(`Trusted comment: timestamp:\\d+\\tfile:SHA256SUMS\\thashed\\thush ${V.replace(/\./g, "\\.")} commit \\S+`));
    expect(r.code).toBe(0);
    expect(spawn([MINISIGN!, "-Vm", "SHA256SUMS", "-p", "minisign.pub"], { cwd: out }).code).toBe(0);
  });

  test.skipIf(!MINISIGN)("(b) minisign rejects SHA256SUMS with one byte flipped, an edited trusted comment, and another key", () => {
    const t = join(work, "tamper");
    mkdirSync(t, { recursive: true });
    const sums = readFileSync(join(out, "SHA256SUMS"));
    const sig = readFileSync(join(out, "SHA256SUMS.minisig"), "utf8");
    const flipped = Buffer.from(sums);
    flipped[10] ^= 0x01; // one hex digit of the first hash
    writeFileSync(join(t, "SHA256SUMS"), flipped);
    writeFileSync(join(t, "SHA256SUMS.minisig"), sig);
    const bad = spawn([MINISIGN!, "-Vm", "SHA256SUMS", "-P", pub], { cwd: t });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("Signature verification failed");

    writeFileSync(join(t, "SHA256SUMS"), sums);
    writeFileSync(join(t, "SHA256SUMS.minisig"), sig.replace(`hush ${V}`, "hush 9.9.9"));
    const comment = spawn([MINISIGN!, "-Vm", "SHA256SUMS", "-P", pub], { cwd: t });
    expect(comment.code).not.toBe(0);
    expect(comment.stderr).toContain("Comment signature verification failed");

    writeFileSync(join(t, "SHA256SUMS.minisig"), sig);
    expect(spawn([MINISIGN!, "-Vm", "SHA256SUMS", "-P", pub], { cwd: t }).code).toBe(0); // the untouched pair still verifies
    expect(spawn([MINISIGN!, "-Vm", "SHA256SUMS", "-P", encodePublicKey(generateKeyPair())], { cwd: t }).code).not.toBe(0);
  });

  test("the signature also verifies here (for machines without minisign)", () => {
    const r = verifyFile(parsePublicKey(pub), readFileSync(join(out, "SHA256SUMS")), readFileSync(join(out, "SHA256SUMS.minisig"), "utf8"));
    expect(r.trustedComment).toContain(`file:SHA256SUMS`);
  });

  test("(f) the SBOM is CycloneDX 1.5 JSON listing every runtime dependency at its exact version", () => {
    const bom = JSON.parse(readFileSync(join(out, `hush-${V}.cdx.json`), "utf8"));
    expect(bom.bomFormat).toBe("CycloneDX");
    expect(bom.specVersion).toBe("1.5");
    expect(bom.metadata.component).toMatchObject({ name: "hush-broker", version: V, purl: `pkg:npm/hush-broker@${V}` });
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8"));
    const full = (c: any) => (c.group ? `${c.group}/${c.name}` : c.name);
    for (const [name, version] of Object.entries(pkg.dependencies as Record<string, string>)) {
      const c = bom.components.find((x: any) => full(x) === name);
      expect(c, name).toBeDefined();
      expect(c.version).toBe(version);
      expect(c.version).toBe(lock.packages[`node_modules/${name}`].version);
      expect(c.purl).toBe(`pkg:npm/${name.replace(/^@/, "%40")}@${version}`);
      const sri = lock.packages[`node_modules/${name}`].integrity as string;
      expect(c.hashes).toContainEqual({ alg: "SHA-512", content: Buffer.from(sri.slice("sha512-".length), "base64").toString("hex") });
      expect(c.licenses?.length).toBeGreaterThan(0);
    }
    for (const d of Object.keys(pkg.devDependencies)) if (d !== "bun") expect(bom.components.some((x: any) => full(x) === d)).toBe(false);
    expect(bom.components.find((x: any) => x.name === "bun")?.version).toBe(Bun.version); // the embedded runtime
  });
});

describe.skipIf(!CAN_RUN_X64)("(d) linux-x64 release binary smoke test", () => {
  test("`version` prints the version and a commit; `--help` works", () => {
    const v = spawn([bin("linux-x64"), "version"]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`^hush ${V.replace(/\./g, "\\.")} \\(commit ([0-9a-f]{12}(-dirty)?), bun ${Bun.version.replace(/\./g, "\\.")}, linux-x64\\)\\n$`));
    const j = JSON.parse(spawn([bin("linux-x64"), "version", "--json"]).stdout);
    expect(j).toMatchObject({ version: V, platform: "linux-x64" });
    const h = spawn([bin("linux-x64"), "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("serve");
  });

  test("`serve` on a temp socket answers `health`, and stops cleanly on SIGTERM", async () => {
    const d = tempDir("hush-rel-smoke-");
    const socket = join(d, "run", "hush.sock");
    const p = Bun.spawn([bin("linux-x64"), "serve", "--socket", socket], { cwd: d, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    let log = "";
    (async () => {
      for await (const c of p.stderr as any) log += new TextDecoder().decode(c);
    })();
    try {
      const end = Date.now() + 10_000;
      while (!log.includes("hush: ready") && Date.now() < end && p.exitCode === null) await Bun.sleep(20);
      expect(log).toContain("hush: ready");
      const h = spawn([bin("linux-x64"), "health", "--socket", socket], { cwd: d });
      expect(h.stdout).toBe(`ready (hush ${V}, ${socket})\n`);
      expect(h.code).toBe(0);
      p.kill("SIGTERM");
      expect(await p.exited).toBe(0);
      expect(existsSync(socket)).toBe(false);
    } finally {
      p.kill("SIGKILL");
      rmSync(d, { recursive: true, force: true });
    }
  });

  test("(g) a bunfig.toml preload or a .env in the working directory is not loaded", () => {
    const d = tempDir("hush-rel-cwd-");
    try {
      writeFileSync(join(d, "bunfig.toml"), `preload = ["./evil.ts"]\n`);
      writeFileSync(join(d, "evil.ts"), `console.log("EVIL-PRELOAD-RAN");\n`);
      writeFileSync(join(d, ".env"), `HUSH_SOCKET=${join(d, "from-dotenv.sock")}\n`);
      const env = { HUSH_SOCKET: undefined, XDG_RUNTIME_DIR: join(d, "xdg") };
      const v = spawn([bin("linux-x64"), "version"], { cwd: d, env });
      expect(v.code).toBe(0);
      expect(v.stdout + v.stderr).not.toContain("EVIL-PRELOAD-RAN");
      // With .env loaded, `health` would try HUSH_SOCKET from it.
      const h = spawn([bin("linux-x64"), "health"], { cwd: d, env });
      expect(h.stdout + h.stderr).not.toContain("EVIL-PRELOAD-RAN");
      expect(h.stdout + h.stderr).not.toContain("from-dotenv.sock");
      expect(h.code).not.toBe(0);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!CAN_RUN_ARM64)("(e) linux-arm64 release binary", () => {
  test("runs `hush version` under qemu-user", () => {
    const cmd = process.arch === "arm64" ? [bin("linux-arm64"), "version"] : [QEMU!, "-L", ARM64_SYSROOT!, bin("linux-arm64"), "version"];
    const r = spawn(cmd);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(new RegExp(`^hush ${V.replace(/\./g, "\\.")} \\(commit \\S+, bun ${Bun.version.replace(/\./g, "\\.")}, linux-arm64\\)\\n$`));
    expect(r.code).toBe(0);
  }, 30_000);
});

describe("all six targets (without compiling)", () => {
  test("names and Bun targets", () => {
    expect(ALL_TARGETS).toEqual(["linux-x64", "linux-arm64", "linux-x64-musl", "darwin-x64", "darwin-arm64", "windows-x64"]);
    expect(ALL_TARGETS.map((t) => artifactName("1.2.3", t))).toEqual([
      "hush-1.2.3-linux-x64",
      "hush-1.2.3-linux-arm64",
      "hush-1.2.3-linux-x64-musl",
      "hush-1.2.3-darwin-x64",
      "hush-1.2.3-darwin-arm64",
      "hush-1.2.3-windows-x64.exe",
    ]);
    for (const t of ALL_TARGETS) expect(TARGETS[t].bun).toBe(`bun-${t}`);
    expect(parseArgs([]).targets).toEqual(ALL_TARGETS);
    expect(parseArgs(["--targets", "bun-linux-x64,darwin-arm64", "--out=x"])).toMatchObject({ targets: ["linux-x64", "darwin-arm64"], out: "x" });
    expect(() => parseArgs(["--targets", "linux-riscv64"])).toThrow("unknown target");
    expect(() => parseArgs(["--key", "x"])).toThrow("unknown argument");
  });

  test("signing and SBOM over all six with stand-in files; no key → ephemeral key, minisign.pub written", async () => {
    const o = join(work, "fake");
    const built: string[] = [];
    const r = await release({
      out: o,
      targets: ALL_TARGETS,
      version: "9.8.7",
      commit: "0123456789ab",
      quiet: true,
      build: async (target, outfile) => {
        built.push(target);
        writeFileSync(outfile, `stand-in for ${target}\n`);
      },
      buildSdk: async () => {}, // packs the dist/sdk that `npm test` built
    });
    expect(built).toEqual(ALL_TARGETS.map((t) => `bun-${t}`));
    expect(r.ephemeral).toBe(true);
    expect(r.files.map((f) => f.name)).toEqual([...ALL_TARGETS.map((t) => artifactName("9.8.7", t)), ...tarballNames("9.8.7", ALL_TARGETS), "hush-9.8.7.cdx.json"]);
    expect(tarballNames("9.8.7", ALL_TARGETS)).toEqual([
      "hush-broker-9.8.7.tgz",
      "hush-broker-linux-x64-9.8.7.tgz",
      "hush-broker-linux-arm64-9.8.7.tgz",
      "hush-broker-linux-x64-musl-9.8.7.tgz",
      "hush-broker-darwin-x64-9.8.7.tgz",
      "hush-broker-darwin-arm64-9.8.7.tgz",
      "hush-broker-windows-x64-9.8.7.tgz",
    ]);
    expect(readFileSync(join(o, "minisign.pub"), "utf8").split("\n")[1]).toBe(r.publicKey);
    expect(readFileSync(join(o, "SHA256SUMS.minisig"), "utf8")).toContain("EPHEMERAL");
    if (MINISIGN) expect(spawn([MINISIGN, "-Vm", "SHA256SUMS", "-P", r.publicKey], { cwd: o }).code).toBe(0);
    if (SHA256SUM) expect(spawn([SHA256SUM, "-c", "SHA256SUMS"], { cwd: o }).code).toBe(0);
  });
});
