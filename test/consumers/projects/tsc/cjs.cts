// The CommonJS side under NodeNext: `require` conditions and `export =` defaults.
import { Client, type HushDaemon } from "hush-broker";
import globalSetup = require("hush-broker/global-setup");
import globalTeardown = require("hush-broker/global-teardown");
import { hushFixtures } from "hush-broker/playwright";
import eb = require("hush-broker/ephemeral-broker");

export async function usage(d: HushDaemon): Promise<void> {
  const teardown: () => Promise<void> = await globalSetup({ maxWorkers: 4 });
  await teardown();
  await globalTeardown();
  new Client({ socket: d.socket, credential: d.credential }).close();
  void hushFixtures().hushSlot[1].scope;
  const slot: number = await new eb.Client(d.socket, { credential: d.credential }).lease("pool", "worker-1");
  void slot;
}
