/**
 * The daemon's errors, told in terms of the command that got them: which
 * key, lock, pool or credential (the daemon's message is generic: "key not
 * found", "pool is exhausted"), and what to do next. Applied by the runner
 * (main.ts) to every error before it is reported; the error code, and so
 * the exit code, never changes. Names of keys, locks, pools and credentials
 * are not secrets; values never reach this module.
 * @module
 */
import { HushError } from "../src/errors.ts";

/** What the command was given: its path, its positional arguments and its flags' values. */
export interface Invocation {
  path: string;
  positionals: string[];
  flags: Map<string, string>;
}

type Rule = (e: HushError, name: string, inv: Invocation) => { message: string; hint?: string } | undefined;

const missingKey: Rule = (e, name) => (e.code === "not_found" ? { message: `no such key: ${name} (missing or expired)` } : undefined);

const lockHeld: Rule = (e, name, inv) => {
  if (e.code !== "conflict" || !e.message.startsWith("lock is held")) return undefined;
  const until = typeof e.detail.expiresAt === "number" ? `, until ${new Date(e.detail.expiresAt).toISOString()}` : "";
  const waited = /\(waited [^)]*\)$/.exec(e.message)?.[0];
  const wait = inv.flags.has("wait") ? "it was still held when --wait ran out: try a longer --wait" : "pass --wait DURATION (e.g. --wait 30s) to wait for it";
  return {
    message: `lock ${name} is held${until}${waited ? ` ${waited}` : ""}`,
    hint: `${wait}; locks are not re-entrant, so if this credential holds it, extend it with \`hush lock renew ${name} --token TOKEN\` instead`,
  };
};

const lockToken: Rule = (e, name, inv) => {
  const token = inv.flags.get("token");
  if (e.code === "not_found") return { message: `lock ${name} is not held (it was released, or its TTL ran out)`, hint: `acquire it again: hush lock acquire ${name} --ttl DURATION` };
  if (e.message === "token does not hold the lock") return { message: `--token ${token} does not hold lock ${name}`, hint: "the lock was released and taken again since, or the token belongs to another lock" };
  if (e.message === "the lock was taken by another key") return { message: `lock ${name} is held by another credential`, hint: "only the credential that acquired a lock can renew or release it" };
  return undefined;
};

const RULES: Record<string, Rule[]> = {
  "kv get": [missingKey],
  "kv del": [missingKey],
  "kv incr": [
    (e, name) =>
      e.message === "value of key is not an integer"
        ? { message: `${name} holds a value that is not an integer, so it cannot be incremented`, hint: `see it with \`hush kv get ${name}\`; counters are keys that kv incr made, or integer values` }
        : undefined,
  ],
  "lock acquire": [lockHeld],
  "lock renew": [lockToken],
  "lock release": [lockToken],
  "pool lease": [
    (e, name, inv) => {
      const m = /^pool has size (\d+)$/.exec(e.message);
      if (m) {
        return {
          message: `pool ${name} has ${m[1]} slots, not --size ${inv.flags.get("size")}`,
          hint: `a pool keeps its size while any lease of it is live: lease with --size ${m[1]}, or wait until its leases end`,
        };
      }
      if (e.message.startsWith("pool is exhausted")) {
        const waited = /\(waited [^)]*\)$/.exec(e.message)?.[0];
        return { message: `every slot of pool ${name} is leased${waited ? ` ${waited}` : ""}`, hint: inv.flags.has("wait") ? "none was freed before --wait ran out: try a longer --wait (exit 4 means: none free)" : "pass --wait DURATION (e.g. --wait 30s) to wait for a free slot (exit 4 means: none free)" };
      }
      const cap = /^size must be an integer from 1 to (\d+)$/.exec(e.message);
      if (cap) return { message: `--size must be from 1 to ${cap[1]} (the most slots a pool can have)` };
      return undefined;
    },
  ],
  "pool release": [
    (e, name, inv) =>
      e.code === "not_found" ? { message: `no live lease of pool ${name} has --token ${inv.flags.get("token")}`, hint: "it was released, or its TTL ran out" } : undefined,
  ],
  checkout: [
    (e, name) => {
      if (e.code === "forbidden" && e.message.includes("tags do not allow")) {
        return {
          message: `this worker's tags do not allow credential ${name}`,
          hint: `an admin can put it again with --allow naming one of this worker's tags (\`hush creds list\` shows its allow-list, \`hush workers list\` the workers' tags)`,
        };
      }
      if (e.code === "not_found" && !e.detail.connect) return { message: `no such credential: ${name}`, hint: "`hush creds list` (admin) shows the names" };
      return undefined;
    },
  ],
};

/** `e` told for the command `inv` ran, or `e` itself when there is nothing to add. */
export function explain(e: unknown, inv: Invocation): unknown {
  if (!(e instanceof HushError) || e.detail.connect || e.detail.untrustedSocket) return e;
  const name = inv.positionals[0] ?? "";
  for (const rule of RULES[inv.path] ?? []) {
    const r = rule(e, name, inv);
    if (r) return new HushError(e.code, r.message, { ...e.detail, ...(r.hint ? { hint: r.hint } : {}) });
  }
  return e;
}
