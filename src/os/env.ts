/**
 * The environment hush hands to the processes it starts. A join token never
 * reaches a child, spent or not: a child (or its children) could otherwise
 * join again with it. Commands run on the daemon's behalf (`--cred
 * NAME=exec:…`) get none of hush's own secrets.
 * @module
 */

/** Variables that carry a join token. */
export const JOIN_TOKEN_ENV: readonly string[] = ["HUSH_JOIN_TOKEN"];

/** Variables that carry one of hush's own secrets (keys, credentials, tokens). */
export const SECRET_ENV: readonly string[] = [...JOIN_TOKEN_ENV, "HUSH_SERVER_KEY", "HUSH_CREDENTIAL", "HUSH_ADMIN_CREDENTIAL", "HUSH_RELEASE_KEY"];

/**
 * `base` without the join token variables and without `drop`, then `set`
 * on top: the environment for a child process.
 */
export function childEnv(
  base: Record<string, string | undefined>,
  set: Record<string, string> = {},
  drop: readonly string[] = [],
): Record<string, string> {
  const gone = new Set([...JOIN_TOKEN_ENV, ...drop]);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !gone.has(k)) env[k] = v;
  return Object.assign(env, set);
}
