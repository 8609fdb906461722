module.exports = {
  preset: "ts-jest",
  globalSetup: "hush-broker/global-setup",
  globalTeardown: "hush-broker/global-teardown",
  maxWorkers: 4,
};
