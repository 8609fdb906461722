/**
 * An impostor daemon for test/e2e/socket-trust.test.ts, run by bun as any
 * uid: `bun _impostor.ts DIR DIR_MODE [SOCKET_NAME…]`. It makes DIR (mode
 * DIR_MODE, octal) unless it exists, listens on each socket name (default
 * admin.sock and hush.sock, made 0666 so anyone can connect), prints `ready`,
 * then `bytes N` (the running total) whenever a byte arrives. It answers
 * every request with 200 and a credential of its own making, as an attacker
 * would.
 */
import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const [dir, mode, ...names] = process.argv.slice(2);
if (!existsSync(dir)) mkdirSync(dir);
chmodSync(dir, parseInt(mode, 8));
let total = 0;
const body = JSON.stringify({ id: "w_impostor", name: "ci", tags: ["ci"], expires_at: Date.now() + 3600_000, credential: "HUSH-WORKER-1IMPOSTOR" });
const answer = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
let pending = (names.length ? names : ["admin.sock", "hush.sock"]).length;
for (const name of names.length ? names : ["admin.sock", "hush.sock"]) {
  const path = join(dir, name);
  try {
    unlinkSync(path);
  } catch {}
  const server = createServer((sock) => {
    sock.on("data", (d) => {
      total += d.length;
      process.stdout.write(`bytes ${total}\n`);
      sock.end(answer);
    });
    sock.on("error", () => {});
  });
  server.listen(path, () => {
    chmodSync(path, 0o666);
    if (--pending === 0) process.stdout.write("ready\n");
  });
}
