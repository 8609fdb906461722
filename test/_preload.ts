/**
 * Test preload: tests never inherit a daemon socket or credential from the
 * developer's shell, and the temporary directories they make are removed
 * when the run ends (hooks in a preload file span the whole run) or, if the
 * run is killed before that, by the next run (test/_tmp.ts, sweepStale).
 */
import { afterAll } from "bun:test";
import { endOfRun, sweepStale } from "./_tmp.ts";

sweepStale();

delete process.env.HUSH_SOCKET;
delete process.env.HUSH_CREDENTIAL;
delete process.env.HUSH_JOIN_TOKEN;
delete process.env.HUSH_URL;
delete process.env.HUSH_ADMIN_CREDENTIAL;
delete process.env.HUSH_TLS_PIN;
delete process.env.HUSH_SOCKET_OWNER;

afterAll(endOfRun);
