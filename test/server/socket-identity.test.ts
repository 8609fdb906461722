/**
 * A stopping daemon unlinks only the socket files it bound (src/server/socket.ts
 * `unlinkOwnSocket`). Inode numbers are reused: on ext4 a socket bound right
 * after ours was unlinked often gets our freed inode number, so device and
 * inode alone would name the successor's socket (seen as a flaky
 * test/e2e/ownership.test.ts: the draining daemon removed its successor's
 * admin.sock). The birth time tells them apart.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, lstatSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { boundSocket, unlinkOwnSocket } from "../../src/server/socket.ts";
import { tempDir } from "../_tmp.ts";

const dir = tempDir("hush-test-sockid-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const listen = (path: string) => Bun.listen({ unix: path, socket: { data() {} } });

test("a successor's socket on our freed inode number is not unlinked; our own is", async () => {
  const path = join(dir, "admin.sock");
  const ours = listen(path);
  const mine = boundSocket(path);
  // Someone removes our socket and a successor binds the path, until it lands on our inode number.
  let successor = ours;
  let reused = false;
  for (let i = 0; i < 200 && !reused; i++) {
    unlinkSync(path);
    if (successor !== ours) successor.stop(true);
    await Bun.sleep(1); // a different birth time even where the clock is coarse
    successor = listen(path);
    reused = lstatSync(path).ino === mine.ino;
  }
  if (reused) {
    expect(unlinkOwnSocket(mine)).toBe(false);
    expect(existsSync(path)).toBe(true);
  } else console.log("socket-identity: this filesystem did not reuse the inode number in 200 tries; checking the birth time rule only");
  expect(unlinkOwnSocket({ ...mine, ino: lstatSync(path).ino, dev: lstatSync(path).dev })).toBe(false);
  expect(unlinkOwnSocket(boundSocket(path))).toBe(true);
  expect(existsSync(path)).toBe(false);
  ours.stop(true);
  successor.stop(true);
});
