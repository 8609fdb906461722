const { Client } = require("hush-broker/ephemeral-broker");

// Written as ephemeral-broker's README and jest example use its Client; only the line above
// differs (it was `require("@ephemeral-broker/core")`). test/consumers copies this file as
// parallel2.js, so two jest workers run it at once against one daemon.

describe("parallel test coordination", () => {
  let client;

  beforeAll(async () => {
    client = new Client(process.env.EPHEMERAL_PIPE, {
      secret: process.env.EPHEMERAL_SECRET || "test-secret",
      timeout: 5000,
    });
    await client.ping();
  });

  test("set and get a value with a TTL", async () => {
    const key = `foo-${process.pid}-${Math.random().toString(36).slice(2)}`;
    expect(await client.set(key, "bar", 60000)).toBe(true);
    expect(await client.get(key)).toBe("bar");
    expect(await client.del(key)).toBe(true);
    await expect(client.get(key)).rejects.toThrow("not_found");
  });

  test("an expensive fixture is shared: the first worker creates it, the others read it", async () => {
    let fixture;
    try {
      fixture = await client.get("test-fixture");
    } catch (e) {
      expect(e.message).toBe("not_found");
      fixture = { users: [{ id: 1, name: "Alice" }, { id: 2, name: "Bob" }], config: { timeout: 5000 } };
      await client.set("test-fixture", fixture, 60000);
    }
    expect(fixture.users).toHaveLength(2);
    expect(fixture.config.timeout).toBe(5000);
  });

  test("a lease per worker: a small number, the same on renewal, released once", async () => {
    const workerId = `worker-${process.pid}-${process.env.JEST_WORKER_ID}`;
    const connId = await client.lease("db-connections", workerId, 60000);
    expect(Number.isInteger(connId)).toBe(true);
    expect(connId).toBeGreaterThanOrEqual(0);
    expect(connId).toBeLessThan(2);
    expect(await client.lease("db-connections", workerId, 60000)).toBe(connId);
    await expect(client.lease("other-pool", workerId, 60000)).rejects.toThrow("worker_already_has_lease");
    await client.set(`query-${connId}`, { workerId, connId, rows: 42 }, 60000);
    expect(await client.release(workerId)).toBe(true);
    expect(await client.release(workerId)).toBe(false);
  });

  test("set without a TTL is refused by the client, as ephemeral-broker's is", async () => {
    await expect(client.set("no-ttl", 1)).rejects.toThrow("TTL is required for set()");
  });

  test("list, stats and health", async () => {
    const key = `state-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await client.set(key, { isolated: true }, 60000);
    const items = await client.list();
    expect(items[key].hasValue).toBe(true);
    expect(items[key].expires).toBeGreaterThan(Date.now());
    const stats = await client.stats();
    expect(stats.items).toBeGreaterThanOrEqual(1);
    expect(stats.capacity.maxItems).toBeGreaterThan(0);
    const health = await client.health();
    expect(health.ok).toBe(true);
    expect(health.status).toBe("healthy");
  });
});
