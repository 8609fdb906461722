/**
 * CycloneDX 1.5 SBOM (JSON) for a hush release, from package-lock.json
 * (lockfileVersion 2 or 3).
 *
 * Lists what ends up inside the compiled binary (and, for the runtime
 * dependencies, inside the npm package's SDK bundle, tsdown.config.ts):
 *  - the runtime dependencies: package.json `dependencies` and everything they
 *    pull in, resolved through the lockfile the way Node resolves
 *    `node_modules` (nearest ancestor first);
 *  - the Bun runtime that `bun build --compile` embeds in every binary.
 * Each component has name, version, purl (`pkg:npm/%40scope/name@version`,
 * purl spec: the `@` of a scope is percent-encoded), the lockfile `integrity`
 * as hex hashes, and licenses from the lockfile or
 * node_modules/<pkg>/package.json. Dev-only packages are left out.
 *
 * Pure apart from the optional `readPackageJson` callback.
 * @module
 */

export interface LockPackage {
  name?: string;
  version?: string;
  integrity?: string;
  resolved?: string;
  license?: string;
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

export interface Lockfile {
  name?: string;
  version?: string;
  lockfileVersion: number;
  packages: Record<string, LockPackage>;
}

export interface SbomOptions {
  /** The application: hush's package.json (name, version, license, description, dependencies). */
  pkg: { name: string; version: string; license?: string; description?: string; dependencies?: Record<string, string> };
  lock: Lockfile;
  commit?: string;
  /** Version of the Bun runtime embedded in the binaries (a `bun` entry in the lockfile is used when present). */
  bunVersion?: string;
  /** ISO timestamp (default: SOURCE_DATE_EPOCH or now). */
  timestamp?: string;
  serialNumber?: string;
  /** node_modules/<pkg>/package.json for a lockfile key, when the lockfile has no license. */
  readPackageJson?: (lockKey: string) => { license?: unknown; licenses?: unknown } | undefined;
}

const HASH_ALGS: Record<string, string> = { sha512: "SHA-512", sha384: "SHA-384", sha256: "SHA-256", sha1: "SHA-1" };

/** SPDX ids common in npm; others go in `license.name` (the schema's `id` is an enum) or `expression`. */
const SPDX_IDS = new Set(["MIT", "ISC", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "MPL-2.0", "Unlicense", "CC0-1.0", "BlueOak-1.0.0", "Python-2.0", "LGPL-3.0-only", "GPL-3.0-only", "Zlib"]);

/** npm package name from a lockfile key ("node_modules/a/node_modules/@s/b" → "@s/b"). */
export function nameFromKey(key: string): string {
  const i = key.lastIndexOf("node_modules/");
  return i < 0 ? key : key.slice(i + "node_modules/".length);
}

/** purl for an npm package (purl spec, npm type: namespace `@scope` is encoded as `%40scope`). */
export function npmPurl(name: string, version: string): string {
  const [scope, base] = name.startsWith("@") ? [name.slice(0, name.indexOf("/")), name.slice(name.indexOf("/") + 1)] : [undefined, name];
  const ns = scope ? `${encodeURIComponent(scope)}/` : "";
  return `pkg:npm/${ns}${encodeURIComponent(base)}@${encodeURIComponent(version)}`;
}

/** Subresource-integrity string ("sha512-<base64> …") → CycloneDX hashes (hex). */
export function integrityToHashes(integrity: string | undefined): { alg: string; content: string }[] {
  if (!integrity) return [];
  const out: { alg: string; content: string }[] = [];
  for (const part of integrity.trim().split(/\s+/)) {
    const m = /^(sha\d+)-([A-Za-z0-9+/]+={0,2})$/.exec(part);
    if (!m || !HASH_ALGS[m[1]]) continue;
    out.push({ alg: HASH_ALGS[m[1]], content: Buffer.from(m[2], "base64").toString("hex") });
  }
  return out;
}

function _licenses(value: unknown): object[] | undefined {
  let s: string | undefined;
  if (typeof value === "string") s = value;
  else if (value && typeof value === "object" && typeof (value as any).type === "string") s = (value as any).type;
  else if (Array.isArray(value)) {
    const ids = value.map((v) => (typeof v === "string" ? v : v?.type)).filter((v): v is string => typeof v === "string");
    if (ids.length) s = ids.length === 1 ? ids[0] : `(${ids.join(" OR ")})`;
  }
  if (!s) return undefined;
  if (/\s(OR|AND|WITH)\s/.test(s) || s.startsWith("(")) return [{ expression: s }];
  return [{ license: SPDX_IDS.has(s) ? { id: s } : { name: s } }];
}

/** Where Node finds `name` when required from the package at lockfile key `from`. */
export function resolveKey(packages: Record<string, LockPackage>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const k = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[k]) return k;
    if (!base) return undefined;
    const i = base.lastIndexOf("/node_modules/");
    base = i < 0 ? "" : base.slice(0, i);
  }
}

/** Lockfile keys of the runtime dependency closure of the root package, with edges. */
export function runtimeClosure(lock: Lockfile, rootDeps: Record<string, string>): { keys: string[]; edges: Map<string, string[]> } {
  const packages = lock.packages;
  const edges = new Map<string, string[]>();
  const seen = new Set<string>();
  const queue: [string, Record<string, string>, Record<string, string>][] = [["", rootDeps, {}]];
  while (queue.length) {
    const [from, deps, soft] = queue.shift()!;
    const out: string[] = [];
    for (const [name, hard] of [...Object.keys(deps).map((n) => [n, true] as const), ...Object.keys(soft).map((n) => [n, false] as const)]) {
      let k = resolveKey(packages, from, name);
      if (!k) {
        if (hard) throw new Error(`package-lock.json: ${name} (needed by ${from || "the root package"}) is not in the lockfile; run npm install`);
        continue;
      }
      if (packages[k].link && packages[k].resolved) k = packages[k].resolved!;
      out.push(k);
      if (!seen.has(k)) {
        seen.add(k);
        const p = packages[k] ?? {};
        queue.push([k, p.dependencies ?? {}, { ...p.optionalDependencies, ...p.peerDependencies }]);
      }
    }
    edges.set(from, out);
  }
  return { keys: [...seen].sort(), edges };
}

function _timestamp(): string {
  const e = process.env.SOURCE_DATE_EPOCH;
  return (e && /^\d+$/.test(e) ? new Date(Number(e) * 1000) : new Date()).toISOString().replace(/\.\d+Z$/, "Z");
}

/** The CycloneDX 1.5 document. */
export function buildSbom(o: SbomOptions): Record<string, unknown> {
  const { pkg, lock } = o;
  if (!lock || typeof lock.packages !== "object" || lock.lockfileVersion < 2) throw new Error("package-lock.json: lockfileVersion 2 or 3 with a `packages` map is needed");
  const rootRef = npmPurl(pkg.name, pkg.version);
  const { keys, edges } = runtimeClosure(lock, pkg.dependencies ?? {});
  const refOf = new Map<string, string>();
  const components: Record<string, unknown>[] = [];
  const component = (key: string, p: LockPackage, extra: Record<string, unknown> = {}) => {
    const name = p.name ?? nameFromKey(key);
    const version = p.version ?? "0.0.0";
    const purl = npmPurl(name, version);
    refOf.set(key, purl);
    if (components.some((c) => c["bom-ref"] === purl)) return;
    const slash = name.startsWith("@") ? name.indexOf("/") : -1;
    const fromPkg = p.license === undefined ? o.readPackageJson?.(key) : undefined;
    const licenses = _licenses(p.license ?? fromPkg?.license ?? fromPkg?.licenses);
    const hashes = integrityToHashes(p.integrity);
    components.push({
      type: "library",
      "bom-ref": purl,
      ...(slash > 0 ? { group: name.slice(0, slash), name: name.slice(slash + 1) } : { name }),
      version,
      scope: "required",
      ...extra,
      ...(hashes.length ? { hashes } : {}),
      ...(licenses ? { licenses } : {}),
      purl,
      ...(p.resolved ? { externalReferences: [{ type: "distribution", url: p.resolved }] } : {}),
    });
  };
  for (const k of keys) component(k, lock.packages[k]);

  // The runtime embedded by `bun build --compile`.
  const bunKey = "node_modules/bun";
  const bunVersion = lock.packages[bunKey]?.version ?? o.bunVersion;
  if (bunVersion) {
    component(bunKey, { version: bunVersion, ...lock.packages[bunKey], dev: false }, {
      type: "framework",
      description: "Bun runtime embedded in every compiled hush binary (bun build --compile); the per-target runtime comes from @oven/bun-<os>-<arch>",
    });
  }

  const dependencies = [{ ref: rootRef, dependsOn: [...new Set([...(edges.get("") ?? []).map((k) => refOf.get(k)!), ...(bunVersion ? [refOf.get(bunKey)!] : [])])] }];
  for (const k of keys) dependencies.push({ ref: refOf.get(k)!, dependsOn: [...new Set((edges.get(k) ?? []).map((d) => refOf.get(d)!))] });
  if (bunVersion) dependencies.push({ ref: refOf.get(bunKey)!, dependsOn: [] });

  return {
    $schema: "http://cyclonedx.org/schema/bom-1.5.schema.json",
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    serialNumber: o.serialNumber ?? `urn:uuid:${crypto.randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: o.timestamp ?? _timestamp(),
      lifecycles: [{ phase: "build" }],
      tools: { components: [{ type: "application", name: "hush release/release.ts", version: pkg.version }] },
      component: {
        type: "application",
        "bom-ref": rootRef,
        name: pkg.name,
        version: pkg.version,
        ...(pkg.description ? { description: pkg.description } : {}),
        ...(_licenses(pkg.license) ? { licenses: _licenses(pkg.license) } : {}),
        purl: rootRef,
        ...(o.commit ? { properties: [{ name: "hush:commit", value: o.commit }] } : {}),
      },
    },
    components,
    dependencies,
  };
}
