/**
 * The long help of every command: extra usage forms, details, examples, and
 * the two facts the argument checks need (`-- CMD`, a value on stdin). Kept
 * apart from the definitions so that command lists show one-line
 * descriptions. Every command has at least one example (test/e2e/help.test.ts
 * walks the tree and checks).
 * @module
 */

export interface HelpPage {
  /** Usage forms after `hush PATH` when the generated one is not enough (the `-- CMD` forms). */
  usage?: string[];
  /** Paragraphs shown after the options. */
  about?: string;
  /** Command lines, each optionally followed by `# comment`. */
  examples: string[];
  /** Words after `--` are a command to run (run, join, checkout); elsewhere they are arguments. */
  passthrough?: boolean;
  /** Reads a secret value from stdin or --value-file: a value on the command line is refused with that hint. */
  readsValue?: boolean;
  /** Flags that may be given more than once (each value counts); any other flag given twice is refused. */
  repeatable?: string[];
  /** The last positional argument takes any number of words (`audit verify FILE…`). */
  variadic?: boolean;
}

const EXIT_CODES = `Exit codes: 0 ok, 1 error, 2 bad input or usage, 3 not found, 4 conflict
(lock held, pool exhausted, already running), 5 authentication or permission
refused, 6 daemon unreachable, busy or not ready. hush run, hush join -- CMD and
hush checkout NAME -- CMD exit with the command's code, or 127 when it cannot be
found and 126 when it cannot be run (checked before anything is spent on it).`;

/** Help pages by command path ("" is `hush` itself). */
export const HELP: Record<string, HelpPage> = {
  "": {
    about: `Secrets are never taken from the command line: values come from stdin or
--value-file, credentials from $HUSH_CREDENTIAL or --credential-file.
The daemon is --url or --socket, else $HUSH_URL, else $HUSH_SOCKET, else the
# addresses line of the credential or token file, else the default socket.
A URL may list several daemons of a cluster, comma-separated
(https://a:8443,https://b:8443 or unix:/PATH/hush.sock): the next is tried only
when one cannot be reached, never after a request may have reached it. Admin commands use admin.sock, or with an admin credential
($HUSH_ADMIN_CREDENTIAL) hush.sock or a controller's URL; without one they
refuse a URL rather than administer the local daemon instead.
Add --json for machine-readable output (and errors as one JSON object on stderr).

${EXIT_CODES}`,
    examples: [
      "hush serve                                   # start the daemon (owner-only socket)",
      "hush workers issue --name me --out me.cred   # mint a worker credential (file 0600)",
      'export HUSH_CREDENTIAL="$(cat me.cred)"',
      'printf %s "$SECRET" | hush kv set api/token --ttl 1h',
      "hush kv get api/token",
      "hush run -- npm test                         # private daemon for one command",
    ],
  },
  serve: {
    repeatable: ["cred", "cred-allow"],
    about: `Listens on hush.sock (signed worker requests) and admin.sock (admin commands,
owner only) in a 0700 directory, which it locks (hush.lock): one daemon per
directory. Everything is held in memory and wiped on exit. SIGINT, SIGTERM or
SIGHUP stops it: requests in flight get up to 5 s (a second signal ends that
wait), then the store is wiped, the sockets removed and the audit run closed.
--max-value must be smaller than --max-body.

Clients refuse a socket whose directory is not 0700/0710 and owned by the daemon's
user, or whose socket is someone else's. Members of --socket-group name the
daemon's user: hush health --socket /run/hush/hush.sock --socket-owner hushd

A new key must come with a TTL. --default-ttl D gives one to keys written without
(every key still expires); --no-ttl-required lets them live for ever instead (the
two cannot be combined). --sliding-ttl makes every read push a key's expiry out by
its TTL, never past 30 days after its last write.

--idle-timeout D stops it the same way once no signed request (or admin.sock
request, or join) has arrived for D; health probes, stats, metrics, audit
streams and refused requests do not count.

--backend shares KV, claims, locks, pools and the replay cache with every daemon
on the same Redis 7, sealed under the --cluster-key-file key (docs/CLUSTER.md);
the Redis password comes from --backend-password-file or $HUSH_BACKEND_PASSWORD,
never from the URL. Worker keys stay per daemon for now.`,
    examples: [
      "hush serve",
      "hush serve --idle-timeout 10m &             # a CI daemon that ends itself",
      "hush serve --default-ttl 30m --sliding-ttl",
      "hush serve --socket /run/hush/hush.sock --max-items 50000",
      "hush serve --socket-group ci --socket-mode 0660",
      "hush serve --server-key-file server.key --creds-file creds.json",
      "hush serve --listen https://10.0.0.1:8443 --tls-cert tls.crt --tls-key tls.key",
      "hush serve --backend rediss://hush@redis.internal:6380 --backend-ca redis-ca.pem --cluster-key-file cluster.key --backend-password-file redis.pass",
    ],
  },
  run: {
    usage: ["[OPTIONS] -- CMD [ARGS…]"],
    passthrough: true,
    about: `Everything after -- is the command. It gets HUSH_SOCKET and HUSH_CREDENTIAL in its
environment; parallel test workers share the daemon's keys, counters, locks and
pools. SIGINT, SIGTERM and SIGHUP are passed on to the command; when it exits, the
daemon is wiped and its directory removed, and hush run exits with the command's
status. The daemon is hardened like hush serve's; the command keeps your umask and
core limit.`,
    examples: ["hush run -- npm test", "hush run --max-items 50000 -- node e2e.mjs", "hush run -- sh -c 'echo $HUSH_SOCKET'"],
  },
  kv: { examples: ["hush kv get build/id", 'printf %s "$TOKEN" | hush kv set api/token --ttl 1h'] },
  "kv get": {
    examples: [
      "hush kv get build/id",
      "hush kv get db/config --json",
      "hush kv get build/id --url https://10.0.0.1:8443,https://10.0.0.2:8443   # two daemons of a cluster",
    ],
  },
  "kv set": {
    readsValue: true,
    about: `Values are never taken from the command line, where other users could see them:
they come from stdin or --value-file (not both). An empty value is refused unless
--allow-empty; so are bytes that are not UTF-8 text (encode binary data, e.g. with
base64). Setting an existing key without --ttl keeps its expiry. --ttl 0 is refused:
it never means "no expiry". With --if-absent, an existing key is left as it is
(exit 4), so the first of several writers wins.`,
    examples: [
      'printf %s "$TOKEN" | hush kv set api/token --ttl 1h',
      "hush kv set api/token --value-file token.txt --ttl 1h",
      "echo '{\"port\": 5432}' | hush kv set db/config --json-value --ttl 10m",
      'printf %s "$URL" | hush kv set fixture/db --ttl 1h --if-absent --slide',
    ],
  },
  "kv ttl": { examples: ["hush kv ttl api/token        # ms left, or none", "hush kv ttl api/token --json"] },
  "kv del": { examples: ["hush kv del api/token            # exit 3 if it did not exist"] },
  "kv list": { examples: ["hush kv list build/", "hush kv list --json"] },
  "kv incr": { examples: ["hush kv incr builds --ttl 24h", "hush kv incr slots --by -1"] },
  lock: { examples: ["TOKEN=$(hush lock acquire db-migrate --ttl 30s)", 'hush lock release db-migrate --token "$TOKEN"'] },
  "lock acquire": {
    about: `The fencing token goes to stdout. For a given name, each new token is higher than every earlier one.
With --wait, a held lock is tried again (about every 100 ms, with jitter, and as soon
as the holder's lock runs out) until it is free or the time is up.`,
    examples: [
      "TOKEN=$(hush lock acquire db-migrate --ttl 30s)",
      "TOKEN=$(hush lock acquire db-migrate --ttl 30s --wait 2m)",
      'hush lock acquire db-migrate --ttl 5m --holder "$HOSTNAME" --json',
    ],
  },
  "lock renew": {
    about: "Without --ttl, the lock is extended by the TTL it was acquired with.",
    examples: ['hush lock renew db-migrate --token "$TOKEN" --ttl 30s', 'hush lock renew db-migrate --token "$TOKEN"'],
  },
  "lock release": { examples: ['hush lock release db-migrate --token "$TOKEN"'] },
  pool: {
    examples: ['read SLOT TOKEN < <(hush pool lease accounts --size 8 --ttl 5m)', 'hush pool release accounts --token "$TOKEN"'],
  },
  "pool lease": {
    about: `Prints SLOT TOKEN. The same --holder asking again (with the same credential) while its
lease is live gets the same slot and token back. A pool has 1 to 65536 slots; its size is
fixed by the lease that creates it for as long as any lease of it is live: a lease with
another --size is refused (exit 4, naming the size) until then. A pool made with
--one-per-holder gives each holder name one slot, whoever asks: another credential asking
under a name that holds a slot gets exit 4. With --wait, a full pool is tried again until
a slot frees up or the time is up.`,
    examples: [
      'read SLOT TOKEN < <(hush pool lease accounts --size 8 --ttl 5m --holder "$HOSTNAME")',
      "hush pool lease shards --size 4 --ttl 10m --holder worker-3 --one-per-holder --wait 1m",
    ],
  },
  "pool renew": {
    about: "Without --ttl, the lease is extended by the TTL it was last leased or renewed with.",
    examples: ['hush pool renew accounts --token "$TOKEN" --ttl 5m', 'hush pool renew accounts --token "$TOKEN"'],
  },
  "pool release": { examples: ['hush pool release accounts --token "$TOKEN"'] },
  join: {
    usage: ["[OPTIONS] -- CMD [ARGS…]", "[OPTIONS] --out FILE"],
    passthrough: true,
    about: `With -- CMD, the command runs with HUSH_SOCKET (or HUSH_URL) and HUSH_CREDENTIAL
set, and hush join exits with its code. Without --out or a command, the
credential is printed on stdout.`,
    examples: [
      "hush join --token-file join.token -- npm test",
      "hush join --token-file join.token --name runner-1 --out worker.cred",
      "hush join --url https://10.0.0.1:8443 --token-file join.token --out worker.cred",
    ],
  },
  token: { examples: ["hush token create --out join.token", "hush token list"] },
  "token create": {
    about: `--addresses writes the daemons a worker should use into the token file; hush join
uses them and carries them into the credential file it writes, so later commands
with that file need no --url. Several addresses are tried in order: the next only
when one cannot be reached (nothing was sent).`,
    examples: [
      "hush token create --out join.token",
      "hush token create --uses 10 --ttl 8h --tags ci,linux --worker-ttl 12h --out ci.token",
      "hush token create --addresses https://10.0.0.1:8443,https://10.0.0.2:8443 --out cluster.token",
    ],
  },
  "token list": { examples: ["hush token list", "hush token list --all                       # with the tokens that ended in the last hour", "hush token list --json"] },
  "token revoke": { examples: ["hush token revoke t_4yTSzcMy4wpS"] },
  creds: { examples: ['printf %s "$PW" | hush creds put db/password --allow ci', "hush creds list"] },
  "creds put": {
    readsValue: true,
    about: `The value comes from stdin or --value-file, never from the command line. With
--mode exclusive, each line is one value of the pool. Empty values are refused, and
so are bytes that are not UTF-8 text. Putting a name again replaces its value and
keeps its allow-list unless --allow (or --allow-none) is given.`,
    examples: [
      'printf %s "$PW" | hush creds put db/password --allow ci,deploy',
      'printf %s "$NEW_PW" | hush creds put db/password      # new value, same allow-list',
      "hush creds put api --value-file /run/secrets/api --allow '*'",
      "printf '%s\\n' acct-1:pw1 acct-2:pw2 | hush creds put test-accounts --mode exclusive --allow ci",
    ],
  },
  "creds list": { examples: ["hush creds list", "hush creds list --json"] },
  "creds delete": { examples: ["hush creds delete db/password"] },
  checkout: {
    usage: ["[OPTIONS] <NAME> -- CMD [ARGS…]", "[OPTIONS] <NAME>                 # print the value (not to a terminal)"],
    passthrough: true,
    about: `With -- CMD, the value is put in the command's environment only (--env VAR, or
the name in upper case: db/password → DB_PASSWORD), and hush exits with the
command's code. Without a command, the value is printed, but never to a terminal
unless --reveal.`,
    examples: [
      'hush checkout db/password -- psql "host=db user=app"    # the value is in $DB_PASSWORD',
      "hush checkout test-accounts --env ACCOUNT --ttl 30m -- npm run e2e",
      "hush checkout api --json | jq -r .value",
    ],
  },
  audit: { examples: ["hush audit tail -f", "hush audit verify audit.jsonl --key-file audit.verify"] },
  "audit tail": {
    about: `Reads admin.sock as the daemon's user; with --admin-credential-file (or
HUSH_ADMIN_CREDENTIAL) it signs the request on hush.sock, or on a controller's TLS
port with --url or $HUSH_URL (pinned), or on the socket a unix:/PATH address names.
Without an admin credential a URL is refused.

With -f the daemon sends a heartbeat every 3 s while nothing is written; they are
never printed. The follower exits 0 when the stream ends after the run's stop line
and closing seal (a clean stop), and 6 when the stream breaks, ends early, or stays
silent for --heartbeat-timeout (default 15s); it prints the --since to resume from,
and does not reconnect by itself. A chain break in the stream exits 1.`,
    examples: [
      "hush audit tail",
      "hush audit tail -f --action 'cred.*' --result denied",
      "hush audit tail -f --since 0 --json --url https://10.0.0.1:8443 --admin-credential-file ops.admin >> audit-copy.jsonl",
      "hush audit tail --file audit.jsonl -n 100",
    ],
  },
  "audit verify": {
    repeatable: ["key-file", "file", "first-epoch"],
    variadic: true,
    usage: ["[OPTIONS] <FILE>..."],
    about: `Without --key-file, only the chain is checked: that catches a careless edit, but
anyone who can write the file can recompute the chain after an edit, cut off the
end, or append a made-up run. With the verification key (from \`hush keygen audit\`,
kept off the daemon's host) every seal is checked, and the output says which lines
the seals vouch for: every line up to the last seal, unless the daemon's sealing
state was stolen before that line was sealed. Every run without a stop line is
listed; --closed fails on any. Files from hush 0.1.0 (format 1) verify with their
HUSH-AUDIT-KEY-1… key, with a warning; pass --key-file twice for a file with both
formats.

Several files (one per daemon sharing a Redis, each with its own chain and sealing
state): each is verified on its own, exactly as alone, with the --key-file whose
key id its runs carry (give one verification key per daemon, in any order). Two
files sealed with the same key are refused. The lines that passed are printed
merged by time in a table whose first column names the file (with --json: one
object with each file's report and the merged lines), then each file's report.
Every broken file gets its own error line with the file, seq and line. With
several files or several --key-file, a file whose key id none of the keys has is
NOT VERIFIED: its chain is checked, its seals are not, nothing in it is vouched
for, none of its lines is printed, and its error line names the key id it needs.

Exit codes: 0 intact (every file), 1 broken (the file, seq and line are named) or
not verified (no --key-file for its key id), 2 bad key file, 3 no such file.`,
    examples: [
      "hush audit verify audit.jsonl                                   # the chain only",
      "hush audit verify audit.jsonl --key-file audit.verify --closed",
      "hush audit verify audit-2.jsonl --key-file audit.verify --first-epoch 5812   # continues audit.jsonl",
      "hush audit verify a/audit.jsonl b/audit.jsonl --key-file a.verify --key-file b.verify   # two daemons, merged by time",
    ],
  },
  "audit hash": {
    readsValue: true,
    examples: ['printf %s "$VALUE" | hush audit hash', "hush audit hash --value-file value.txt"],
  },
  workers: { examples: ["hush workers issue --name ci-runner --out ci.cred", "hush workers list"] },
  "workers issue": {
    examples: ["hush workers issue --name ci-runner --out ci.cred", "hush workers issue --name build --tags ci,linux --ttl 8h --out build.cred"],
  },
  "workers list": { examples: ["hush workers list", "hush workers list --admins --json"] },
  "workers revoke": { examples: ["hush workers revoke w_AbCdEfGhIjKlMnOp"] },
  rotate: { examples: ["hush rotate worker w_AbCdEfGhIjKlMnOp", "hush rotate server-key --stage prepare"] },
  "rotate worker": { examples: ["hush rotate worker w_AbCdEfGhIjKlMnOp"] },
  "rotate token": { examples: ["hush rotate token t_4yTSzcMy4wpS --out new.token"] },
  "rotate server-key": {
    examples: [
      "hush rotate server-key                      # list the keys and their state",
      "hush rotate server-key --stage prepare",
      "hush rotate server-key --stage activate",
      "hush rotate server-key --stage retire",
    ],
  },
  keygen: { examples: ["hush keygen secret --out db.secret", "hush keygen server --out server.key"] },
  "keygen secret": { examples: ["hush keygen secret --out db.secret", "hush keygen secret --bytes 16 --hex | hush kv set api/key --ttl 1h"] },
  "keygen server": { examples: ["hush keygen server --out server.key"] },
  "keygen admin": { examples: ["hush keygen admin --name ops --ttl 8h --out ops.admin"] },
  "keygen cluster": {
    about: `The cluster key of several daemons on one Redis (hush serve --backend): copy the
file (0600) to every daemon's host; Redis never sees it. It is never overwritten.`,
    examples: ["hush keygen cluster --out cluster.key", "hush serve --backend redis+unix://hush@localhost/run/redis/redis.sock --cluster-key-file cluster.key"],
  },
  "keygen tls": { examples: ["hush keygen tls --host ctl.example.org,10.0.0.1 --out-cert tls.crt --out-key tls.key"] },
  "keygen audit": {
    about: `Like \`journalctl --setup-keys\`: one random seed gives the verification key (to
--out, else stdout) and the daemon's sealing state at epoch 0 (to --state-out). Keep
the verification key off the daemon's host. The state file must be owned by the
daemon's user and mode 0600, in a directory that user can write: \`hush serve\`
replaces it at every seal with the next state and erases the old one, so whoever
steals it later cannot forge seals of earlier epochs.`,
    examples: [
      "hush keygen audit --out audit.verify --state-out /var/lib/hush/audit.state   # then move audit.verify away",
      "hush serve --audit-file /var/lib/hush/audit.jsonl --audit-state-file /var/lib/hush/audit.state",
    ],
  },
  stats: { examples: ["hush stats", "hush stats --json"] },
  status: {
    about: `Unlike hush health (public, unsigned), status needs a key: a worker credential
($HUSH_CREDENTIAL or --credential-file), an admin credential, or else the
admin socket. It shows figures only, never names or values. The byte limit is
what the store could hold at its limits (--max-items × --max-value).
The daemon line names the daemon that answered (url or socket in JSON): with
several addresses, the first that could be reached, and those that could not
(down). kv and the other worker commands go to the same daemon, and say
nothing about it: their output is the value alone.`,
    examples: ["hush status", "hush status --json | jq .items", "HUSH_CREDENTIAL=\"$(cat me.cred)\" hush status   # as a worker"],
  },
  health: {
    about: `Checks the daemon every other command would reach (--url, --socket, $HUSH_URL,
$HUSH_SOCKET, the # addresses line of the credential, then the default path) and
names the one that answered; with several addresses it checks each and lists those
that are down. The credential is --credential-file, $HUSH_CREDENTIAL, else
$HUSH_ADMIN_CREDENTIAL; over https:// its pin is checked (or --tls-pin's).`,
    examples: [
      "hush health --json",
      "hush health --socket /run/hush/hush.sock --socket-owner hushd   # a daemon run by user hushd",
      'hush health --url https://10.0.0.1:8443 --tls-pin "$PIN"',
    ],
  },
  bench: {
    about: `Starts a private daemon (a separate process) unless --socket is given, and reports
ops/s and latency percentiles from a histogram. Progress is shown on stderr when it
is a terminal. See docs/PERFORMANCE.md.`,
    examples: [
      "hush bench --op get --connections 32 --duration 10s",
      "hush bench --op join --connections 32 --duration 5s --json",
      "hush bench --op get --duration 120s --rate 16000 --sample 5s",
    ],
  },
  version: { examples: ["hush version", "hush version --json"] },
  completion: {
    about: `Prints a completion script generated from the command tree. Load it from your
shell's start-up file.`,
    examples: [
      'source <(hush completion bash)                     # in ~/.bashrc',
      "hush completion zsh > \"${fpath[1]}/_hush\"         # then restart zsh",
      "hush completion fish > ~/.config/fish/completions/hush.fish",
    ],
  },
};
