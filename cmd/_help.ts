/**
 * Long help (details and examples) printed after the usage of each command.
 * Kept apart so that command lists show one-line descriptions.
 * @module
 */
export const HELP: Record<string, string> = {
  "bench":
    "Starts a private daemon (a separate process) unless --socket is given, and reports ops/s and\nlatency percentiles from a histogram. See docs/PERFORMANCE.md.\n\nExamples:\n  hush bench --op get --connections 32 --duration 10s\n  hush bench --op join --connections 32 --duration 5s --json\n  hush bench --op get --duration 120s --rate 16000 --sample 5s",
  "health":
    "Examples:\n  hush health --json\n  hush health --socket /run/hush/hush.sock --socket-owner hushd   # a daemon run by user hushd",
  "keygen secret":
    "Examples:\n  hush keygen secret --out db.secret\n  hush keygen secret --bytes 16 --hex | hush kv set api/key --ttl 1h",
  "kv get":
    "Example:\n  hush kv get build/id",
  "kv incr":
    "Example:\n  hush kv incr builds --ttl 24h",
  "kv list":
    "Example:\n  hush kv list build/",
  "kv set":
    "Values are never taken from the command line, where other users could see them.\n\nExamples:\n  printf %s \"$TOKEN\" | hush kv set api/token --ttl 1h\n  echo '{\"port\": 5432}' | hush kv set db/config --json-value --ttl 10m",
  "lock acquire":
    "Example:\n  TOKEN=$(hush lock acquire db-migrate --ttl 30s)",
  "pool lease":
    "Example:\n  read SLOT TOKEN < <(hush pool lease accounts --size 8 --ttl 5m --holder \"$HOSTNAME\")",
  "run":
    "The command gets HUSH_SOCKET and HUSH_CREDENTIAL in its environment; parallel\ntest workers share the daemon's keys, counters, locks and pools. SIGINT, SIGTERM\nand SIGHUP are passed on to the command; when it exits, the daemon is wiped and\nits directory removed, and hush run exits with the command's status. The\ndaemon is hardened like hush serve's; the command keeps your umask and core limit.\n\nExamples:\n  hush run -- npm test\n  hush run --max-items 50000 -- node e2e.mjs",
  "serve":
    "Listens on hush.sock (signed worker requests) and admin.sock (admin commands,\nowner only) in a 0700 directory, which it locks (hush.lock): one daemon per\ndirectory. Everything is held in memory and wiped on exit. SIGINT, SIGTERM or\nSIGHUP stops it: requests in flight get up to 5 s (a second signal ends that\nwait), then the store is wiped, the sockets removed and the audit run closed.\n\nExamples:\n  hush serve\n  hush serve --socket /run/hush/hush.sock --max-items 50000\n  hush serve --socket-group ci --socket-mode 0660\n\nClients refuse a socket whose directory is not 0700/0710 and owned by the daemon's\nuser, or whose socket is someone else's. Members of --socket-group name the\ndaemon's user: hush health --socket /run/hush/hush.sock --socket-owner hushd",
  "workers issue":
    "Examples:\n  hush workers issue --name ci-runner --out ci.cred\n  HUSH_CREDENTIAL=$(hush workers issue --name build --tags ci,linux --ttl 8h) npm test",
  "workers revoke":
    "Example:\n  hush workers revoke w_AbCdEfGhIjKlMnOp",
};
