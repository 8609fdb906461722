/**
 * What each worker of every consumer project does, through the hush-broker
 * package the project installed (passed in as `sdk`, loaded by the
 * project's own module system). The harness (../consumers.test.ts) checks
 * the files written to $CONSUMER_OUT after the runner exits.
 *
 * 1. Barrier: wait until all 4 test files run at once (proves 4 workers).
 * 2. One pool slot per worker (`leaseWorkerSlot`, or Playwright's `hushSlot`).
 * 3. A fixture created once (`client.getOrSet`; creations logged to created.log).
 * 4. A shared counter (`incr`) and a lock-protected critical section
 *    (`client.withLock`): enter/exit logged to section.log, fencing tokens
 *    checked against the last one stored.
 *
 * The client is the default one (`Client.fromEnv()`, or Playwright's `hush`
 * fixture): the WebSocket transport, through the `ws` package bundled in
 * hush-broker.
 */
const fs = require("node:fs");
const path = require("node:path");
const { threadId } = require("node:worker_threads");

const TTL = 600_000;
const FILES = 4;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = async function scenario(sdk, file, given = {}) {
  const out = process.env.CONSUMER_OUT;
  if (!out) throw new Error("CONSUMER_OUT is not set");
  const id = `${process.pid}.${threadId}.${path.basename(file)}`;
  const client = given.client ?? sdk.Client.fromEnv();
  const worker = given.index ?? sdk.workerIndex();
  const slot = given.slot ?? (await sdk.leaseWorkerSlot(client));

  await client.incr("arrived", 1, { ttlMs: TTL });
  for (const end = Date.now() + 60_000; (await client.get("arrived")) < FILES; await sleep(20)) {
    if (Date.now() > end) throw new Error(`only ${await client.get("arrived")} of ${FILES} test files ran at the same time`);
  }

  const fixture = await client.getOrSet(
    "fixture",
    async () => {
      fs.appendFileSync(path.join(out, "created.log"), `${id}\n`);
      await sleep(100);
      return { createdBy: id };
    },
    { ttlMs: TTL, wait: { timeoutMs: 60_000, retryDelayMs: 20 } },
  );

  const counts = [];
  const tokens = [];
  for (let i = 0; i < 5; i++) {
    counts.push(await client.incr("counter", 1, { ttlMs: TTL }));
    await client.withLock(
      "critical",
      async (signal, lock) => {
        fs.appendFileSync(path.join(out, "section.log"), `enter ${id} ${lock.token}\n`);
        let last = 0;
        try {
          last = await client.get("last-token", { signal });
        } catch (e) {
          if (!(sdk.isHushError(e) && e.code === "not_found")) throw e;
        }
        if (!(lock.token > last)) throw new Error(`fencing token ${lock.token} is not above ${last}`);
        await client.set("last-token", lock.token, { ttlMs: TTL, signal });
        await sleep(5);
        fs.appendFileSync(path.join(out, "section.log"), `exit ${id} ${lock.token}\n`);
        tokens.push(lock.token);
      },
      { ttlMs: 10_000, wait: { timeoutMs: 60_000, retryDelayMs: 10 } },
    );
  }

  const result = { id, worker, slot: slot.slot, fixture, counts, tokens, workers: process.env.HUSH_TEST_WORKERS, socket: process.env.HUSH_SOCKET };
  fs.writeFileSync(path.join(out, `result-${id}.json`), JSON.stringify(result));
  if (!given.client) client.close();
};
