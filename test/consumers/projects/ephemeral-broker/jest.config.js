// An ephemeral-broker user's jest setup, minus its globalSetup/globalTeardown (which started
// ephemeral-broker's Broker): `hush run -- npx jest` starts the daemon instead. No package.json
// here, on purpose: `npx` then finds hush and jest in the shared directory's node_modules.
module.exports = {
  testEnvironment: "node",
  maxWorkers: 2,
  // Not *.test.js, as ephemeral-broker's example names them: `bun test` would run them as its own.
  testMatch: ["**/tests/*.js"],
};
