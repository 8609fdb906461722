/**
 * src/os/socket-trust.ts in-process: the directory a client checked is the
 * directory it connects through, even when the path is swapped right after
 * the check (Linux, /proc/self/fd); owner resolution; the rule's messages.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, closeSync, constants as fsc, mkdirSync, openSync, renameSync, rmdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { _held, checkSocketDir, resolveSocketOwner, trustSocket } from "../../src/os/socket-trust.ts";
import { HushError } from "../../src/errors.ts";
import { tempDir } from "../_tmp.ts";

const uid = process.getuid!();
const base = tempDir("hush-os-");
const servers: { stop(force?: boolean): void }[] = [];
afterAll(() => {
  for (const s of servers) s.stop(true);
  rmSync(base, { recursive: true, force: true });
});

/** A 0700 directory at `dir` with a server answering `name` on hush.sock. */
function serveIn(dir: string, name: string, mode = 0o700): string {
  mkdirSync(dir, { mode });
  chmodSync(dir, mode);
  const old = process.umask(0o077);
  try {
    servers.push(Bun.serve({ unix: join(dir, "hush.sock"), fetch: () => new Response(name) }));
  } finally {
    process.umask(old);
  }
  return join(dir, "hush.sock");
}

const onLinux = process.platform === "linux";

describe("trustSocket", () => {
  test.skipIf(!onLinux)("connects through the checked directory: a swap after the check reaches nothing new", async () => {
    // Linux only: elsewhere the check is by path and this swap is the documented residual risk.
    const path = serveIn(join(base, "swap"), "checked");
    const via = trustSocket(path, uid);
    expect(via).toMatch(/^\/proc\/self\/fd\/\d+\/hush\.sock$/);
    // Someone who can write the parent moves the checked directory away and puts another in its place.
    renameSync(join(base, "swap"), join(base, "moved"));
    serveIn(join(base, "swap"), "impostor", 0o777);
    const res = await fetch("http://localhost/", { unix: via } as RequestInit);
    expect(await res.text()).toBe("checked");
    // A fresh check of the path sees the new, loose directory and refuses it.
    expect(() => trustSocket(path, uid)).toThrow(/socket directory .*swap .* has mode 0777, writable by group or others/);
  });

  test.skipIf(!onLinux)("one fd per directory, reused across checks; a new directory gets a new path", () => {
    const a = serveIn(join(base, "one"), "one");
    expect(trustSocket(a, uid)).toBe(trustSocket(a, uid));
    expect(trustSocket(join(base, "one", "admin.sock").replace("admin.sock", "hush.sock"), uid)).toBe(trustSocket(a, uid));
    const b = serveIn(join(base, "two"), "two");
    expect(trustSocket(b, uid)).not.toBe(trustSocket(a, uid));
  });

  test.skipIf(!onLinux)("a held fd whose directory was deleted (its inode number reused) is not used again", async () => {
    // Inode numbers are reused: the cache entry for this directory's dev:ino may be an fd of a deleted
    // directory that had the same number. Simulated by pointing the entry at such an fd.
    const path = serveIn(join(base, "reuse"), "live");
    const id = statSync(join(base, "reuse"), { bigint: true });
    const key = `${id.dev}:${id.ino}`;
    trustSocket(path, uid);
    const gone = join(base, "gone");
    mkdirSync(gone, { mode: 0o700 });
    const stale = openSync(gone, 0o10000000 /* O_PATH */ | fsc.O_DIRECTORY);
    rmdirSync(gone); // nlink 0: the fd leads nowhere the path reaches
    const before = _held.get(key)!;
    _held.set(key, stale);
    try {
      const via = trustSocket(path, uid);
      expect(via).not.toBe(`/proc/self/fd/${stale}/hush.sock`);
      expect(await (await fetch("http://localhost/", { unix: via } as RequestInit)).text()).toBe("live");
      expect(_held.get(key)).not.toBe(stale);
    } finally {
      closeSync(stale);
      closeSync(before);
    }
  });

  test("a missing socket or directory is an fs error (retried by the transport), not a refusal", () => {
    const dir = join(base, "empty");
    mkdirSync(dir, { mode: 0o700 });
    for (const p of [join(dir, "hush.sock"), join(base, "absent", "hush.sock")]) {
      let err: any;
      try {
        trustSocket(p, uid);
      } catch (e) {
        err = e;
      }
      expect(err).not.toBeInstanceOf(HushError);
      expect(err.code).toBe("ENOENT");
      expect(err.message).not.toContain("/proc/");
    }
  });

  test("another expected owner is refused with auth_failed, naming path, owner and mode", () => {
    const path = serveIn(join(base, "mine"), "mine");
    let err: any;
    try {
      trustSocket(path, 4_242_424);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HushError);
    expect(err.code).toBe("auth_failed");
    expect(err.detail.untrustedSocket).toBe(true);
    expect(err.message).toBe(
      `refusing to connect to ${path}: socket directory ${join(base, "mine")} is owned by you (uid ${uid}), not by uid 4242424, and has mode 0700; nothing was sent`,
    );
  });
});

describe("checkSocketDir", () => {
  const st = (mode: number, owner = uid, kind: "dir" | "link" | "file" = "dir") => ({
    uid: owner,
    mode,
    isDirectory: () => kind === "dir",
    isSymbolicLink: () => kind === "link",
    isSocket: () => false,
  });
  test("the client rule accepts 0700 and 0710 only", () => {
    for (const m of [0o700, 0o710]) expect(checkSocketDir("/d", st(m), { uid, deny: 0o067 })).toBeUndefined();
    for (const m of [0o750, 0o701, 0o720, 0o770, 0o755, 0o777, 0o1777]) expect(checkSocketDir("/d", st(m), { uid, deny: 0o067 })).toContain("has mode");
  });
  test("names symlinks and non-directories", () => {
    expect(checkSocketDir("/d", st(0o777, uid, "link"), { uid, deny: 0o067 })).toBe("socket directory /d is a symlink (refused: it must be a real directory)");
    expect(checkSocketDir("/d", st(0o600, uid, "file"), { uid, deny: 0o067 })).toBe("socket directory /d is not a directory");
  });
});

describe("resolveSocketOwner", () => {
  test("default is the caller; a uid or a user name from /etc/passwd; the environment", () => {
    expect(resolveSocketOwner(undefined, {})).toBe(uid);
    expect(resolveSocketOwner("", {})).toBe(uid);
    expect(resolveSocketOwner("1234", {})).toBe(1234);
    expect(resolveSocketOwner(1234, {})).toBe(1234);
    expect(resolveSocketOwner("root", {})).toBe(0);
    expect(resolveSocketOwner(undefined, { HUSH_SOCKET_OWNER: "77" })).toBe(77);
    expect(resolveSocketOwner("5", { HUSH_SOCKET_OWNER: "77" })).toBe(5);
  });
  test("an unknown user name or a bad uid is invalid_request", () => {
    expect(() => resolveSocketOwner("no-such-user-hush", {})).toThrow(/no such user in \/etc\/passwd: "no-such-user-hush"/);
    expect(() => resolveSocketOwner(-1, {})).toThrow(HushError);
  });
});
