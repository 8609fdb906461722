export default {
  globalSetup: "hush-broker/global-setup",
  globalTeardown: "hush-broker/global-teardown",
  maxWorkers: 4,
  transform: {},
};
