/**
 * The environment hush hands to the processes it starts: one policy for
 * every kind of child (SECURITY.md, "What a command started by hush gets").
 * A child never inherits one of hush's own secrets (`SECRET_ENV`: a join
 * token, a worker or admin credential, the server key, the release key,
 * the cluster key and the Redis password of `hush serve --backend`);
 * it gets exactly the one secret hush means to hand it, set on top:
 *
 * | child | gets | also dropped |
 * | --- | --- | --- |
 * | `hush run -- CMD` | `HUSH_SOCKET`, `HUSH_CREDENTIAL` of the run | `HUSH_SOCKET_OWNER`, `HUSH_URL`, `HUSH_TLS_PIN` (it must reach the run's daemon) |
 * | `hush join -- CMD` | `HUSH_CREDENTIAL` of the new worker, and `HUSH_URL` or `HUSH_SOCKET` (+ `HUSH_SOCKET_OWNER`) | |
 * | `hush checkout NAME -- CMD` | the value, in its variable | |
 * | `--cred NAME=exec:COMMAND` | nothing of hush's | the variables that `env:` sources read |
 * | the daemon `hush bench` starts | nothing of hush's | |
 *
 * The rest of the caller's environment is passed on as it is.
 * @module
 */

/** Variables that carry one of hush's own secrets (keys, credentials, tokens). */
export const SECRET_ENV: readonly string[] = [
  "HUSH_JOIN_TOKEN",
  "HUSH_SERVER_KEY",
  "HUSH_CREDENTIAL",
  "HUSH_ADMIN_CREDENTIAL",
  "HUSH_RELEASE_KEY",
  // hush serve --backend (docs/CLUSTER.md §1)
  "HUSH_CLUSTER_KEY",
  "HUSH_BACKEND_PASSWORD",
];

/** Variables that say which daemon a client talks to (besides `HUSH_SOCKET`): a child of `hush run` must reach the run's own. */
export const DAEMON_ENV: readonly string[] = ["HUSH_SOCKET_OWNER", "HUSH_URL", "HUSH_TLS_PIN"];

/**
 * The environment for a child process: `base` without every `SECRET_ENV`
 * variable and without `drop`, then `give` on top (the one secret, and
 * where to use it, that hush hands this child).
 */
export function childEnv(
  base: Record<string, string | undefined>,
  give: Record<string, string> = {},
  drop: readonly string[] = [],
): Record<string, string> {
  const gone = new Set([...SECRET_ENV, ...drop]);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !gone.has(k)) env[k] = v;
  return Object.assign(env, give);
}
