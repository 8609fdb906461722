/**
 * `hush serve` flags for a shared state backend (docs/CLUSTER.md §1):
 * `--backend URL`, the cluster key, the Redis password (a file or the
 * environment, never argv), the key prefix, the deadline and the TLS CA.
 * @module
 */
import { readFileSync } from "node:fs";
import { HushError } from "../src/errors.ts";
import { decodeClusterKey, parseKeyFile } from "../src/keys/index.ts";
import { openRedisBackend, parseBackendUrl, type RedisBackend } from "../src/cluster/index.ts";
import { parseDuration, type DaemonConfig } from "../src/config/index.ts";
import type { Logger } from "../src/observe/index.ts";
import { readSecretFile } from "./_credentials.ts";

const s = (description: string, valueHint: string) => ({ type: "string" as const, description, valueHint });

export const backendArgs = {
  backend: s("share KV, locks, pools and the replay cache with other daemons in Redis 7: redis://HOST:PORT, rediss://HOST:PORT or redis+unix:///PATH (a user name may be in the URL, a password never)", "URL"),
  "cluster-key-file": s("the cluster key from `hush keygen cluster`, the same on every daemon (needed with --backend; default: $HUSH_CLUSTER_KEY)", "FILE"),
  "backend-password-file": s("the Redis password of hush's ACL user (default: $HUSH_BACKEND_PASSWORD)", "FILE"),
  "backend-prefix": s("prefix of every Redis key hush uses, matched by the user's ACL (default hush:)", "PREFIX"),
  "backend-timeout": s("longest wait for one Redis answer before a request fails with unavailable (default 1s)", "DURATION"),
  "backend-ca": s("PEM CA certificate(s) to verify a rediss:// server (default: the system's)", "FILE"),
};

/** The cluster key's text: `--cluster-key-file` (owned by you or root, not readable by others), else `$HUSH_CLUSTER_KEY`. */
function clusterKeyText(file: string | undefined): string {
  if (file) return readSecretFile(file, "--cluster-key-file", "they could know the cluster key and read or forge what hush stores in Redis", "refuse");
  const env = process.env.HUSH_CLUSTER_KEY;
  if (env) return env; // decodeClusterKey names what is wrong with it, never echoing it
  throw new HushError("invalid_request", "--backend needs --cluster-key-file or $HUSH_CLUSTER_KEY (make one with: hush keygen cluster --out cluster.key)");
}

/** Connect to the backend `--backend` names (fail fast), or undefined without one. */
export async function openBackend(args: Record<string, any>, config: DaemonConfig, log: Logger): Promise<RedisBackend | undefined> {
  if (!args.backend) {
    const stray = Object.keys(backendArgs).find((f) => f !== "backend" && args[f]);
    if (stray) throw new HushError("invalid_request", `--${stray} needs --backend`);
    return undefined;
  }
  const target = parseBackendUrl(args.backend);
  const clusterKey = decodeClusterKey(parseKeyFile(clusterKeyText(args["cluster-key-file"])));
  // Neither variable reaches a child (src/os/env.ts SECRET_ENV).
  let password = process.env.HUSH_BACKEND_PASSWORD;
  if (args["backend-password-file"]) {
    password = readSecretFile(args["backend-password-file"], "--backend-password-file", "they could know the Redis password", "refuse").replace(/\r?\n$/, "");
  }
  if (password) log.masker.add(password);
  const prefix = args["backend-prefix"] || "hush:";
  let started = false;
  const b = await openRedisBackend({
    target,
    password: password || undefined,
    clusterKey,
    prefix,
    timeoutMs: args["backend-timeout"] ? parseDuration(args["backend-timeout"], "--backend-timeout") : 1000,
    ca: args["backend-ca"] ? readSecretFile(args["backend-ca"], "--backend-ca", "they could have chosen which Redis server hush trusts", "allow") : undefined,
    windowMs: config.clockWindowMs,
    perKey: config.nonceCachePerKey,
    limits: config.limits,
    onEvent: (e) => {
      if (e.type === "down") log.warn("state backend unavailable: requests that need it are refused until it is back", { backend: target.shown, reason: e.reason });
      else if (e.lost) {
        log.warn("Redis lost its state (new epoch): every KV key and counter, claim, lock, pool lease, credential lease and replay-cache entry of the previous epoch is gone, and so is every worker and admin key and join token (workers must join again); signed requests are refused until the quiet period ends", { backend: target.shown, epoch: e.epoch, quiet_until: new Date(e.quietUntil).toISOString() });
      } else if (started) log.info("state backend available again", { backend: target.shown, epoch: e.epoch });
    },
  });
  started = true;
  log.info("state backend", { backend: target.shown, prefix, epoch: b.connection.epoch });
  return b;
}
