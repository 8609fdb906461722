/**
 * The masker alone, in this process, in CPU time (process.cpuUsage, so a
 * busy machine inflates it less than wall time): registering and releasing
 * worker credentials with 10 000 already held, masking a log line, and
 * registering a 200 KB credential value (one line, and 2 000 lines).
 *
 *   bun bench/masking-micro.ts
 * @module
 */
import { Masker } from "../src/observe/mask.ts";
import { encodeCredential } from "../src/keys/index.ts";
import { randomBytes, toB64u } from "../src/crypto/index.ts";

const cpuMs = (f: () => void) => {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
};
const fmt = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));

const serverPublic = randomBytes(32);
const credential = () => encodeCredential({ kind: "worker", keyId: "w_" + toB64u(randomBytes(12)), macKey: randomBytes(32), encKey: randomBytes(32), serverPublic });
const creds = Array.from({ length: 20_000 }, credential);
const m = new Masker();
cpuMs(() => creds.slice(0, 10_000).forEach((c, i) => m.add(c, { owner: `k${i}` }))); // held, and the JIT warmed
const add = cpuMs(() => creds.slice(10_000).forEach((c, i) => m.add(c, { owner: `k${10_000 + i}` }))) / 10_000;
const line = JSON.stringify({ ts: new Date().toISOString(), level: "info", msg: "worker key issued", worker: "w_abcdefghijklmnop", name: "bench-1234", actor: "admin-socket" });
cpuMs(() => {
  for (let i = 0; i < 20_000; i++) m.mask(line);
});
const mask = cpuMs(() => {
  for (let i = 0; i < 100_000; i++) m.mask(line);
}) / 100_000;
const long = "x".repeat(100) + creds[5] + "y".repeat(10_000);
const maskLong = cpuMs(() => {
  for (let i = 0; i < 200; i++) m.mask(long);
}) / 200;
const release = cpuMs(() => creds.forEach((_, i) => m.release(`k${i}`))) / creds.length;

const lines = Array.from({ length: 2000 }, () => toB64u(randomBytes(75)));
const big = (value: string) => {
  const b = new Masker();
  b.add(value, { owner: "v" }); // warm
  b.release("v");
  const a = cpuMs(() => b.add(value, { owner: "v" }));
  const forms = b.size;
  const r = cpuMs(() => b.release("v"));
  return `${fmt(a)} ms (${forms} forms), release ${fmt(r)} ms`;
};

console.log(`credential (10 000 held): add ${fmt(add * 1000)} µs, release ${fmt(release * 1000)} µs`);
console.log(`mask a ${line.length}-character log line: ${fmt(mask * 1000)} µs; a ${long.length}-character line holding a credential: ${fmt(maskLong * 1000)} µs`);
console.log(`200 KB value, one line: add ${big(lines.join(""))}`);
console.log(`200 KB value, 2 000 lines: add ${big(lines.join("\n"))}`);
