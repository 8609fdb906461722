/** Start-up credential sources: parsing, fail-fast errors without values, and a scrubbed environment for exec. */
import { afterAll, expect, test } from "bun:test";
import { EXEC_LIMITS, loadCredSpec, parseCredsFile } from "../../src/server/creds-load.ts";
import { killMarked, runningSleeps, sleepMarker } from "../_procs.ts";

afterAll(killMarked);

test.skipIf(process.platform !== "linux")("an exec: command past its time limit is ended with its whole process group", async () => {
  const saved = { ...EXEC_LIMITS };
  Object.assign(EXEC_LIMITS, { timeoutMs: 300, graceMs: 300 });
  try {
    const [a, b] = [sleepMarker(), sleepMarker()];
    const e: any = await loadCredSpec(`X=exec:sleep ${a} & (trap '' TERM; exec sleep ${b}) & wait`, { PATH: process.env.PATH }).catch((x) => x);
    expect(e.message).toBe("--cred X: the command did not finish within 0.3 s");
    expect({ a: runningSleeps(a), b: runningSleeps(b) }).toEqual({ a: [], b: [] });
  } finally {
    Object.assign(EXEC_LIMITS, saved);
  }
});

test("exec: sources never see hush's own secrets in their environment", async () => {
  const env = { PATH: process.env.PATH, HUSH_SERVER_KEY: "HUSH-SERVER-KEY-1SECRET", HUSH_CREDENTIAL: "HUSH-WORKER-1SECRET", OTHER: "visible" };
  const c = await loadCredSpec("X=exec:echo \"${HUSH_SERVER_KEY:-none}-${HUSH_CREDENTIAL:-none}-$OTHER\"", env);
  expect(new TextDecoder().decode(c.values[0])).toBe("none-none-visible");
});

test("a failing source stops the start with an error that holds no value", async () => {
  const e: any = await loadCredSpec("X=exec:echo leaked-value; exit 3", {}).catch((x) => x);
  expect(e.message).toBe("--cred X: command exited with status 3");
  expect(String(e.message)).not.toContain("leaked-value");
  const m: any = await loadCredSpec("X=env:NOPE", {}).catch((x) => x);
  expect(m.message).toContain("NOPE is not set");
});

test("creds files: JSON with allow/mode, and dotenv", () => {
  const j = parseCredsFile('{"a":"v1","b":{"values":["p1","p2"],"mode":"exclusive","allow":["ci"]}}', "f.json");
  expect(j.map((c) => [c.name, c.values.length, c.mode, c.allow])).toEqual([["a", 1, "shared", []], ["b", 2, "exclusive", ["ci"]]]);
  const d = parseCredsFile("# c\nexport A='x y'\nB=\"z\"\n", "f.env");
  expect(d.map((c) => [c.name, new TextDecoder().decode(c.values[0])])).toEqual([["A", "x y"], ["B", "z"]]);
  expect(() => parseCredsFile("not a line", "f.env")).toThrow("f.env:1: expected NAME=value");
});
