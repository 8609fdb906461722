/**
 * Daemon address lists (src/client/addresses.ts) and the `# addresses:`
 * line of key files (src/keys/file.ts): the forms accepted, the mistakes
 * refused (before anything is sent), and old files without the line.
 */
import { expect, test } from "bun:test";
import { formatAddresses, MAX_ADDRESSES, parseAddresses } from "../../src/client/addresses.ts";
import { formatKeyFile, keyFileAddresses, parseKeyFile } from "../../src/keys/index.ts";

test("a list keeps its order; each address in canonical form", () => {
  const list = parseAddresses(" https://a.example:8443 , unix:/run/hush/hush.sock,http://127.0.0.1:9000/ ", "HUSH_URL");
  expect(list.map((a) => a.kind)).toEqual(["https", "unix", "http"]);
  expect(formatAddresses(list)).toBe("https://a.example:8443,unix:/run/hush/hush.sock,http://127.0.0.1:9000");
});

test("mistakes are refused with invalid_request, naming where the list came from", () => {
  const bad: [string, string][] = [
    ["", "empty address"],
    ["https://a:1,,https://b:1", "empty address"],
    ["https://a:1,https://a:1", "named twice"],
    ["unix:run/hush.sock", "unix:/ABSOLUTE"],
    ["ftp://a:1", "must start with https://"],
    ["https://a:1/v1", "without a path"],
    ["https://user@a:1", "without a path, query or user name"],
    ["a.example:8443", "must start with https://"],
    ["https://", "not a URL"],
    [Array.from({ length: MAX_ADDRESSES + 1 }, (_, i) => `https://h${i}:1`).join(","), `at most ${MAX_ADDRESSES}`],
  ];
  for (const [list, says] of bad) {
    expect(() => parseAddresses(list, "HUSH_URL")).toThrow(expect.objectContaining({ code: "invalid_request", message: expect.stringContaining(says) }));
    expect(() => parseAddresses(list, "HUSH_URL")).toThrow(/^HUSH_URL/);
  }
});

test("key files: the # addresses line is written in the header and read back; old files have none", () => {
  const file = formatKeyFile("HUSH-WORKER-1XYZ", { kind: "worker credential", addresses: "https://a:1,https://b:1", note: "id: w_x" });
  expect(file).toContain("# addresses: https://a:1,https://b:1\n");
  expect(keyFileAddresses(file)).toBe("https://a:1,https://b:1");
  expect(parseKeyFile(file)).toBe("HUSH-WORKER-1XYZ");
  expect(keyFileAddresses(formatKeyFile("HUSH-WORKER-1XYZ", { kind: "worker credential" }))).toBeUndefined();
  expect(keyFileAddresses("HUSH-WORKER-1XYZ")).toBeUndefined();
  // Only the header counts: a line after the key string is not read.
  expect(keyFileAddresses("# hush worker credential\nHUSH-WORKER-1XYZ\n# addresses: https://evil:1\n")).toBeUndefined();
});
