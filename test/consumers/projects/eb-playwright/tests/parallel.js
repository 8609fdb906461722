import { test, expect } from "@playwright/test";
import { Client } from "hush-broker/ephemeral-broker";

// ephemeral-broker's Playwright example (examples/playwright-basic/tests/parallel.spec.js, renamed). Its first
// import line is kept as it was; the line above replaced `import { Client } from 'ephemeral-broker'`
// (test/consumers also runs this file with `@ephemeral-broker/core` there, under ephemeral-broker's
// own daemon, and both runs must pass). Every broker call is the example's, unchanged. What differs,
// because no browser can be installed offline and the example's pages are on the internet:
//   - no `page`, `browser` or `request` fixtures: page.goto / addCookies / request.get are gone, and
//     the browser's name in a worker id is the project's name;
//   - `profileId >= 1` and `callNumber > 0` read `>= 0`: a lease's value is the smallest free slot,
//     0 for the first holder, in ephemeral-broker too (the example's assertions fail against it).

let client;

test.beforeAll(async () => {
  client = new Client(process.env.EPHEMERAL_PIPE, {
    secret: process.env.EPHEMERAL_SECRET || "test-secret",
    allowNoTtl: true,
  });

  // Verify broker connectivity
  await client.ping();
});

test.describe("Parallel Browser Tests", () => {
  test("should get unique browser profiles for each worker", async ({}, testInfo) => {
    const workerId = `worker-${testInfo.project.name || "chromium"}-${Date.now()}`;

    // Lease unique profile ID
    const profileId = await client.lease("browser-profiles", workerId, 60000);

    console.log(`${workerId} using profile ${profileId}`);

    // Store test result
    await client.set(`profile-${profileId}-result`, {
      workerId,
      profileId,
      url: "https://example.com/",
      success: true,
    });

    // Release profile
    await client.release(workerId);

    expect(profileId).toBeGreaterThanOrEqual(0);
    expect(profileId).toBeLessThanOrEqual(10);
  });

  test("should share session cookies across workers", async () => {
    // Try to get existing session
    let sessionCookie;
    try {
      sessionCookie = await client.get("session-cookie");
    } catch {
      // First worker creates the session
      sessionCookie = {
        name: "session_id",
        value: `sess_${Date.now()}_${Math.random().toString(36).substr(2, 9)}`,
        domain: "example.com",
        path: "/",
      };
      await client.set("session-cookie", sessionCookie);
      console.log("Created shared session:", sessionCookie.value);
    }

    console.log("Using shared session:", sessionCookie.value);

    expect(sessionCookie.value).toMatch(/^sess_/);
  });

  test("should coordinate API rate limits", async () => {
    const workerId = `worker-api-${Date.now()}`;

    // Get rate limit counter
    const callNumber = await client.lease("api-rate-limit", workerId, 5000);

    console.log(`Worker ${workerId} - API call #${callNumber}`);

    // Release counter
    await client.release(workerId);

    expect(callNumber).toBeGreaterThanOrEqual(0);
  });

  test("should share test fixtures across parallel runs", async () => {
    // First worker loads fixture
    let testData;
    try {
      testData = await client.get("test-fixture");
    } catch {
      testData = {
        users: ["alice", "bob", "charlie"],
        apiUrl: "https://example.com/api",
        timeout: 5000,
      };
      await client.set("test-fixture", testData);
      console.log("Loaded test fixture");
    }

    // All workers use the same fixture
    console.log("Using test data:", testData.users);

    expect(testData.users).toHaveLength(3);
    expect(testData.timeout).toBe(5000);
  });
});

test.describe("Browser Context Isolation", () => {
  test("should isolate state between parallel contexts", async () => {
    const workerId = `context-${Math.random().toString(36).substr(2, 9)}`;

    // Each context gets its own state
    await client.set(`context-${workerId}`, {
      workerId,
      isolated: true,
      timestamp: Date.now(),
    });

    // Verify isolation
    const myState = await client.get(`context-${workerId}`);
    expect(myState.workerId).toBe(workerId);
    expect(myState.isolated).toBe(true);
  });
});
