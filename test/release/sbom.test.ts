/** release/sbom.ts: CycloneDX 1.5 from package-lock.json. */
import { describe, expect, test } from "bun:test";
import { buildSbom, integrityToHashes, npmPurl, resolveKey, runtimeClosure, type Lockfile } from "../../release/sbom.ts";

const lock: Lockfile = {
  lockfileVersion: 3,
  packages: {
    "": { name: "app", version: "1.0.0", dependencies: { a: "1", "@s/b": "2" } },
    "node_modules/a": { version: "1.0.0", integrity: "sha512-AAAA", license: "MIT", dependencies: { c: "^1" } },
    "node_modules/a/node_modules/c": { version: "1.5.0", license: "(MIT OR Apache-2.0)" },
    "node_modules/c": { version: "2.0.0", license: "ISC" },
    "node_modules/@s/b": { version: "2.0.0", integrity: "sha1-AAAA sha256-AAAA", dependencies: { c: "^2" }, optionalDependencies: { gone: "1" } },
    "node_modules/devonly": { version: "9.9.9", dev: true, license: "MIT" },
  },
};
const pkg = { name: "app", version: "1.0.0", license: "MIT", dependencies: { a: "1.0.0", "@s/b": "2.0.0" } };

describe("sbom", () => {
  test("purls follow the purl spec for npm (scope's @ encoded)", () => {
    expect(npmPurl("@noble/curves", "2.4.0")).toBe("pkg:npm/%40noble/curves@2.4.0");
    expect(npmPurl("citty", "0.2.2")).toBe("pkg:npm/citty@0.2.2");
  });

  test("integrity (SRI, base64) becomes hex hashes with CycloneDX algorithm names", () => {
    const b64 = Buffer.from("abc").toString("base64");
    expect(integrityToHashes(`sha512-${b64}`)).toEqual([{ alg: "SHA-512", content: "616263" }]);
    expect(integrityToHashes(`sha1-${b64} sha256-${b64}`).map((h) => h.alg)).toEqual(["SHA-1", "SHA-256"]);
    expect(integrityToHashes(undefined)).toEqual([]);
  });

  test("dependencies resolve like node_modules: nested copy first, then the parent's", () => {
    expect(resolveKey(lock.packages, "node_modules/a", "c")).toBe("node_modules/a/node_modules/c");
    expect(resolveKey(lock.packages, "node_modules/@s/b", "c")).toBe("node_modules/c");
    const { keys } = runtimeClosure(lock, pkg.dependencies);
    expect(keys).toEqual(["node_modules/@s/b", "node_modules/a", "node_modules/a/node_modules/c", "node_modules/c"]);
  });

  test("the document: runtime closure only, licenses from lockfile or package.json, dependency graph", () => {
    const bom = buildSbom({ pkg, lock, commit: "abc", bunVersion: "1.4.4", readPackageJson: (k) => (k === "node_modules/@s/b" ? { license: "BSD-3-Clause" } : undefined) }) as any;
    expect(bom.bomFormat).toBe("CycloneDX");
    expect(bom.specVersion).toBe("1.5");
    expect(bom.serialNumber).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    const byPurl = Object.fromEntries(bom.components.map((c: any) => [c.purl, c]));
    expect(Object.keys(byPurl).sort()).toEqual(["pkg:npm/%40s/b@2.0.0", "pkg:npm/a@1.0.0", "pkg:npm/bun@1.4.4", "pkg:npm/c@1.5.0", "pkg:npm/c@2.0.0"]);
    expect(byPurl["pkg:npm/%40s/b@2.0.0"]).toMatchObject({ group: "@s", name: "b", licenses: [{ license: { id: "BSD-3-Clause" } }] });
    expect(byPurl["pkg:npm/c@1.5.0"].licenses).toEqual([{ expression: "(MIT OR Apache-2.0)" }]);
    expect(byPurl["pkg:npm/a@1.0.0"].hashes[0].alg).toBe("SHA-512");
    expect(byPurl["pkg:npm/bun@1.4.4"].type).toBe("framework");
    const deps = Object.fromEntries(bom.dependencies.map((d: any) => [d.ref, d.dependsOn]));
    expect(deps["pkg:npm/app@1.0.0"]).toEqual(["pkg:npm/a@1.0.0", "pkg:npm/%40s/b@2.0.0", "pkg:npm/bun@1.4.4"]);
    expect(deps["pkg:npm/a@1.0.0"]).toEqual(["pkg:npm/c@1.5.0"]);
    expect(deps["pkg:npm/%40s/b@2.0.0"]).toEqual(["pkg:npm/c@2.0.0"]);
    expect(bom.metadata.component.properties).toEqual([{ name: "hush:commit", value: "abc" }]);
    expect(JSON.stringify(bom)).not.toContain("devonly");
  });

  test("a dependency missing from the lockfile is an error", () => {
    expect(() => buildSbom({ pkg: { ...pkg, dependencies: { nothere: "1" } }, lock })).toThrow("nothere");
    expect(() => buildSbom({ pkg, lock: { lockfileVersion: 1, packages: undefined as any } })).toThrow("lockfileVersion");
  });
});
