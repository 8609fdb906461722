// Every entry point of hush-broker, used with the types a consumer relies on. It needs no
// @types/node (tsconfig "types": [] except under NodeNext, where playwright.ts needs them).
import { Client, HushError, isHushError, leaseWorkerSlot, startDaemon, workerIndex, type HushDaemon, type Lease, type Lock } from "hush-broker";
import globalSetup from "hush-broker/global-setup";
import globalTeardown from "hush-broker/global-teardown";
import { hushFixtures, type HushWorkerFixtures } from "hush-broker/playwright";
import { Client as EbClient, type ClientOptions as EbClientOptions, type Health } from "hush-broker/ephemeral-broker";

const fixtures = hushFixtures({ pool: "accounts", size: 4 });
export const scopes: ["worker", "worker"] = [fixtures.hush[1].scope, fixtures.hushSlot[1].scope];
export type Slot = HushWorkerFixtures["hushSlot"]["slot"];

export async function usage(): Promise<number> {
  const teardown: () => Promise<void> = await globalSetup();
  await teardown();
  await globalTeardown();
  const daemon: HushDaemon = await startDaemon({ name: "types", maxItems: 100, timeoutMs: 5_000 });
  const client = new Client({ socket: daemon.socket, credential: daemon.credential });
  const n: number = await client.incr("n", 1, { ttlMs: 1_000 });
  const token: number = await client.withLock("l", (_signal: AbortSignal, lock: Lock) => lock.token, { ttlMs: 1_000, wait: { timeoutMs: 5_000 } });
  const fixture: { id: string } = await client.getOrSet("f", () => ({ id: "x" }), { ttlMs: 1_000 });
  const slot: Lease = await leaseWorkerSlot(client, { size: 4, index: workerIndex({ JEST_WORKER_ID: "1" }) });
  try {
    await client.get<string>("missing");
  } catch (e) {
    if (isHushError(e) && e.code === "not_found" && e instanceof HushError) return 0;
  }
  await slot.release();
  const ebOptions: EbClientOptions = { credential: daemon.credential, timeout: 5_000, secret: undefined };
  const eb = new EbClient(daemon.socket, ebOptions);
  const stored: boolean = await eb.set("k", { a: 1 }, 1_000);
  const ebSlot: number = await eb.lease("pool", "worker-1", 1_000);
  const released: boolean = await eb.release("worker-1");
  const health: Health["status"] = (await eb.health()).status;
  eb.close();
  if (!stored || !released || health !== "healthy") return -ebSlot;
  client.close();
  await daemon.stop();
  return n + token + fixture.id.length;
}
