/**
 * Test preload: tests never inherit a daemon socket or credential from the
 * developer's shell.
 */
delete process.env.HUSH_SOCKET;
delete process.env.HUSH_CREDENTIAL;
delete process.env.HUSH_JOIN_TOKEN;
