/**
 * Noise_NKpsk0 properties: every single-bit flip of either handshake message
 * is rejected (exhaustively for one handshake, and with fast-check for random
 * keys and payloads), wrong psk / prologue / server key fail, both sides agree
 * on c1/c2, out-of-order calls throw, and length limits hold.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { fromHex, generateX25519, toHex, utf8, x25519PublicKey } from "../../src/crypto/index.ts";
import { HushError } from "../../src/errors.ts";
import { MAX_MESSAGE_LEN, createInitiator, createResponder } from "../../src/noise/index.ts";
import type { KeyPair } from "../../src/noise/index.ts";

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const payloadArb = fc.uint8Array({ minLength: 0, maxLength: 200 });

function keyPairOf(secretKey: Uint8Array): KeyPair {
  return { secretKey, publicKey: x25519PublicKey(secretKey) };
}

function flipBit(message: Uint8Array, bit: number): Uint8Array {
  const out = message.slice();
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

/** Run fn and return the HushError it throws (fails the test if it does not throw one). */
function catchHushError(fn: () => unknown): HushError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HushError);
    return err as HushError;
  }
  throw new Error("expected a HushError, nothing was thrown");
}

interface Fixture {
  server: KeyPair;
  initEphemeral: KeyPair;
  respEphemeral: KeyPair;
  psk: Uint8Array;
  prologue: Uint8Array;
  payload1: Uint8Array;
  payload2: Uint8Array;
}

function newInitiator(f: Fixture) {
  return createInitiator({ remoteStatic: f.server.publicKey, psk: f.psk, prologue: f.prologue, ephemeral: f.initEphemeral });
}

function newResponder(f: Fixture) {
  return createResponder({ staticKey: f.server, psk: f.psk, prologue: f.prologue, ephemeral: f.respEphemeral });
}

/** One complete handshake with fixed ephemerals: returns both messages. */
function runFixture(f: Fixture) {
  const msg1 = newInitiator(f).writeMessage1(f.payload1);
  const responder = newResponder(f);
  responder.readMessage1(msg1);
  const { message: msg2 } = responder.writeMessage2(f.payload2);
  return { msg1, msg2 };
}

function expectMessage1Rejected(f: Fixture, msg1: Uint8Array): void {
  expect(catchHushError(() => newResponder(f).readMessage1(msg1)).code).toBe("auth_failed");
}

function expectMessage2Rejected(f: Fixture, msg2: Uint8Array): void {
  const initiator = newInitiator(f);
  initiator.writeMessage1(f.payload1);
  expect(catchHushError(() => initiator.readMessage2(msg2)).code).toBe("auth_failed");
}

const fixed: Fixture = {
  server: keyPairOf(fromHex("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893")),
  initEphemeral: keyPairOf(fromHex("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a")),
  respEphemeral: keyPairOf(fromHex("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b")),
  psk: utf8("0123456789abcdef0123456789abcdef"),
  prologue: utf8("hush/1 join\nt_AAAAAAAAAAAA"),
  payload1: utf8('{"name":"w1","ts":1}'),
  payload2: utf8('{"id":"w_x","expires_at":2}'),
};

describe("single-bit flips (exhaustive, one fixed handshake)", () => {
  const { msg1, msg2 } = runFixture(fixed);

  test("the unmodified messages complete the handshake", () => {
    const initiator = newInitiator(fixed);
    const responder = newResponder(fixed);
    expect(toHex(responder.readMessage1(initiator.writeMessage1(fixed.payload1)).payload)).toBe(toHex(fixed.payload1));
    const { message } = responder.writeMessage2(fixed.payload2);
    expect(toHex(initiator.readMessage2(message).payload)).toBe(toHex(fixed.payload2));
  });

  test(`every bit of message 1 (${msg1.length * 8} bits) makes the responder fail`, () => {
    for (let bit = 0; bit < msg1.length * 8; bit++) expectMessage1Rejected(fixed, flipBit(msg1, bit));
  });

  test(`every bit of message 2 (${msg2.length * 8} bits) makes the initiator fail`, () => {
    for (let bit = 0; bit < msg2.length * 8; bit++) expectMessage2Rejected(fixed, flipBit(msg2, bit));
  });

  test("truncated or extended messages fail", () => {
    for (const m of [msg1.subarray(0, msg1.length - 1), new Uint8Array([...msg1, 0])]) expectMessage1Rejected(fixed, m);
    for (const m of [msg2.subarray(0, msg2.length - 1), new Uint8Array([...msg2, 0])]) expectMessage2Rejected(fixed, m);
  });
});

const fixtureArb = fc.record({
  server: bytes32.map(keyPairOf),
  initEphemeral: bytes32.map(keyPairOf),
  respEphemeral: bytes32.map(keyPairOf),
  psk: bytes32,
  prologue: fc.uint8Array({ maxLength: 64 }),
  payload1: payloadArb,
  payload2: payloadArb,
});

describe("single-bit flips (fast-check, random keys and payloads)", () => {
  test("a flipped bit in message 1 makes the responder fail", () => {
    fc.assert(
      fc.property(fixtureArb, fc.nat(), (f, n) => {
        const { msg1 } = runFixture(f);
        expectMessage1Rejected(f, flipBit(msg1, n % (msg1.length * 8)));
      }),
      { numRuns: 200 },
    );
  });

  test("a flipped bit in message 2 makes the initiator fail", () => {
    fc.assert(
      fc.property(fixtureArb, fc.nat(), (f, n) => {
        const { msg2 } = runFixture(f);
        expectMessage2Rejected(f, flipBit(msg2, n % (msg2.length * 8)));
      }),
      { numRuns: 200 },
    );
  });
});

describe("mismatched inputs fail the handshake", () => {
  test("wrong psk", () => {
    fc.assert(
      fc.property(fixtureArb, bytes32, (f, otherPsk) => {
        fc.pre(toHex(otherPsk) !== toHex(f.psk));
        const msg1 = createInitiator({ remoteStatic: f.server.publicKey, psk: otherPsk, prologue: f.prologue }).writeMessage1(f.payload1);
        expectMessage1Rejected(f, msg1);
      }),
      { numRuns: 50 },
    );
  });

  test("wrong prologue", () => {
    fc.assert(
      fc.property(fixtureArb, fc.uint8Array({ maxLength: 64 }), (f, otherPrologue) => {
        fc.pre(toHex(otherPrologue) !== toHex(f.prologue));
        const msg1 = createInitiator({ remoteStatic: f.server.publicKey, psk: f.psk, prologue: otherPrologue }).writeMessage1(f.payload1);
        expectMessage1Rejected(f, msg1);
      }),
      { numRuns: 50 },
    );
  });

  test("wrong server static key", () => {
    fc.assert(
      fc.property(fixtureArb, bytes32.map(keyPairOf), (f, other) => {
        fc.pre(toHex(other.publicKey) !== toHex(f.server.publicKey));
        const msg1 = createInitiator({ remoteStatic: other.publicKey, psk: f.psk, prologue: f.prologue }).writeMessage1(f.payload1);
        expectMessage1Rejected(f, msg1);
      }),
      { numRuns: 50 },
    );
  });

  test("a prologue that differs only in the token id fails (PROTOCOL.md §5 binding)", () => {
    const msg1 = createInitiator({ remoteStatic: fixed.server.publicKey, psk: fixed.psk, prologue: utf8("hush/1 join\nt_AAAAAAAAAAAB") }).writeMessage1(fixed.payload1);
    expectMessage1Rejected(fixed, msg1);
  });

  test("a low-order ephemeral key in message 1 or 2 fails", () => {
    const { msg1, msg2 } = runFixture(fixed);
    for (const low of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      expectMessage1Rejected(fixed, new Uint8Array([...low, ...msg1.subarray(32)]));
      expectMessage2Rejected(fixed, new Uint8Array([...low, ...msg2.subarray(32)]));
    }
  });
});

describe("agreement (fast-check, generated ephemerals)", () => {
  test("both sides derive equal c1/c2 keys and handshake hash, and transport works both ways", () => {
    fc.assert(
      fc.property(fixtureArb, payloadArb, (f, data) => {
        const initiator = createInitiator({ remoteStatic: f.server.publicKey, psk: f.psk, prologue: f.prologue });
        const responder = createResponder({ staticKey: f.server, psk: f.psk, prologue: f.prologue });
        const r1 = responder.readMessage1(initiator.writeMessage1(f.payload1));
        expect(toHex(r1.payload)).toBe(toHex(f.payload1));
        const w2 = responder.writeMessage2(f.payload2);
        const r2 = initiator.readMessage2(w2.message);
        expect(toHex(r2.payload)).toBe(toHex(f.payload2));
        expect(toHex(r2.c1.key)).toBe(toHex(w2.c1.key));
        expect(toHex(r2.c2.key)).toBe(toHex(w2.c2.key));
        expect(toHex(r2.c1.key)).not.toBe(toHex(r2.c2.key));
        expect(toHex(r2.handshakeHash)).toBe(toHex(w2.handshakeHash));
        const ad = utf8("ad");
        expect(toHex(w2.c1.decrypt(ad, r2.c1.encrypt(ad, data)))).toBe(toHex(data));
        expect(toHex(r2.c2.decrypt(ad, w2.c2.encrypt(ad, data)))).toBe(toHex(data));
      }),
      { numRuns: 100 },
    );
  });

  test("two handshakes with the same inputs use fresh ephemerals and different keys", () => {
    const keys = new Set<string>();
    const ephemerals = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const server = generateX25519();
      const initiator = createInitiator({ remoteStatic: server.publicKey, psk: fixed.psk, prologue: fixed.prologue });
      const responder = createResponder({ staticKey: server, psk: fixed.psk, prologue: fixed.prologue });
      ephemerals.add(toHex(responder.readMessage1(initiator.writeMessage1(fixed.payload1)).remoteEphemeral));
      keys.add(toHex(initiator.readMessage2(responder.writeMessage2(fixed.payload2).message).c1.key));
    }
    expect(ephemerals.size).toBe(2);
    expect(keys.size).toBe(2);
  });
});

describe("state machine order", () => {
  test("initiator: readMessage2 first, writeMessage1 twice, anything after done", () => {
    expect(catchHushError(() => newInitiator(fixed).readMessage2(new Uint8Array(64))).code).toBe("internal");
    const initiator = newInitiator(fixed);
    initiator.writeMessage1(fixed.payload1);
    expect(catchHushError(() => initiator.writeMessage1(fixed.payload1)).code).toBe("internal");
    const { msg2 } = runFixture(fixed);
    initiator.readMessage2(msg2);
    expect(catchHushError(() => initiator.readMessage2(msg2)).code).toBe("internal");
    expect(catchHushError(() => initiator.writeMessage1(fixed.payload1)).code).toBe("internal");
  });

  test("responder: writeMessage2 first, readMessage1 twice, anything after done", () => {
    expect(catchHushError(() => newResponder(fixed).writeMessage2(fixed.payload2)).code).toBe("internal");
    const { msg1 } = runFixture(fixed);
    const responder = newResponder(fixed);
    responder.readMessage1(msg1);
    expect(catchHushError(() => responder.readMessage1(msg1)).code).toBe("internal");
    responder.writeMessage2(fixed.payload2);
    expect(catchHushError(() => responder.writeMessage2(fixed.payload2)).code).toBe("internal");
    expect(catchHushError(() => responder.readMessage1(msg1)).code).toBe("internal");
  });

  test("a failed read abandons the handshake: no retry, no next step", () => {
    const { msg1, msg2 } = runFixture(fixed);
    const responder = newResponder(fixed);
    expect(catchHushError(() => responder.readMessage1(flipBit(msg1, 300))).code).toBe("auth_failed");
    expect(catchHushError(() => responder.readMessage1(msg1)).code).toBe("internal");
    expect(catchHushError(() => responder.writeMessage2(fixed.payload2)).code).toBe("internal");
    const initiator = newInitiator(fixed);
    initiator.writeMessage1(fixed.payload1);
    expect(catchHushError(() => initiator.readMessage2(flipBit(msg2, 300))).code).toBe("auth_failed");
    expect(catchHushError(() => initiator.readMessage2(msg2)).code).toBe("internal");
  });
});

describe("limits and inputs", () => {
  test("psk, remote static and key pairs must be 32 bytes", () => {
    const psk31 = new Uint8Array(31);
    expect(catchHushError(() => createInitiator({ remoteStatic: fixed.server.publicKey, psk: psk31, prologue: fixed.prologue })).code).toBe("invalid_request");
    expect(catchHushError(() => createResponder({ staticKey: fixed.server, psk: psk31, prologue: fixed.prologue })).code).toBe("invalid_request");
    expect(catchHushError(() => createInitiator({ remoteStatic: new Uint8Array(33), psk: fixed.psk, prologue: fixed.prologue })).code).toBe("invalid_request");
    const badPair = { secretKey: new Uint8Array(16), publicKey: fixed.server.publicKey };
    expect(catchHushError(() => createResponder({ staticKey: badPair, psk: fixed.psk, prologue: fixed.prologue })).code).toBe("invalid_request");
  });

  test("messages shorter than 48 bytes or longer than 65535 bytes are rejected", () => {
    for (const len of [0, 31, 32, 47, MAX_MESSAGE_LEN + 1]) {
      expectMessage1Rejected(fixed, new Uint8Array(len));
      expectMessage2Rejected(fixed, new Uint8Array(len));
    }
  });

  test("the largest payload that fits 65535 bytes works; one more byte is too_large", () => {
    const max = MAX_MESSAGE_LEN - 48;
    const big = new Uint8Array(max).fill(7);
    const initiator = newInitiator(fixed);
    const responder = newResponder(fixed);
    const msg1 = initiator.writeMessage1(big);
    expect(msg1.length).toBe(MAX_MESSAGE_LEN);
    expect(responder.readMessage1(msg1).payload.length).toBe(max);
    const { message } = responder.writeMessage2(big);
    expect(message.length).toBe(MAX_MESSAGE_LEN);
    expect(initiator.readMessage2(message).payload.length).toBe(max);
    expect(catchHushError(() => newInitiator(fixed).writeMessage1(new Uint8Array(max + 1))).code).toBe("too_large");
  });

  test("the caller's psk and ephemeral buffers are not modified", () => {
    const f = { ...fixed, psk: fixed.psk.slice(), initEphemeral: keyPairOf(fixed.initEphemeral.secretKey.slice()) };
    const before = toHex(f.psk) + toHex(f.initEphemeral.secretKey);
    runFixture(f);
    const initiator = newInitiator(f);
    initiator.writeMessage1(f.payload1);
    initiator.readMessage2(runFixture(f).msg2);
    expect(toHex(f.psk) + toHex(f.initEphemeral.secretKey)).toBe(before);
  });

  test("error messages carry no key material", () => {
    const { msg1 } = runFixture(fixed);
    const err = catchHushError(() => newResponder(fixed).readMessage1(flipBit(msg1, 400)));
    for (const secret of [fixed.psk, fixed.server.secretKey, fixed.initEphemeral.secretKey, msg1.subarray(0, 32)]) {
      expect(err.message).not.toContain(toHex(secret));
      expect(err.message).not.toContain(Buffer.from(secret).toString("base64url"));
    }
  });
});

describe("transport CipherState", () => {
  function handshake() {
    const initiator = newInitiator(fixed);
    const responder = newResponder(fixed);
    responder.readMessage1(initiator.writeMessage1(fixed.payload1));
    const w2 = responder.writeMessage2(fixed.payload2);
    return { init: initiator.readMessage2(w2.message), resp: w2 };
  }

  test("a tampered message fails with auth_failed and does not advance the nonce", () => {
    const { init, resp } = handshake();
    const ad = new Uint8Array(0);
    const ct = init.c1.encrypt(ad, utf8("hello"));
    expect(catchHushError(() => resp.c1.decrypt(ad, flipBit(ct, 3))).code).toBe("auth_failed");
    expect(catchHushError(() => resp.c1.decrypt(utf8("other ad"), ct)).code).toBe("auth_failed");
    expect(toHex(resp.c1.decrypt(ad, ct))).toBe(toHex(utf8("hello")));
    expect(catchHushError(() => resp.c1.decrypt(ad, ct)).code).toBe("auth_failed"); // replay: nonce moved on
  });

  test("key returns a copy; wipe() zeroes the state and later calls throw", () => {
    const { init } = handshake();
    const k = init.c1.key;
    k.fill(0);
    expect(toHex(init.c1.key)).not.toBe(toHex(k));
    init.c1.wipe();
    expect(() => init.c1.key).toThrow();
    expect(() => init.c1.encrypt(new Uint8Array(0), utf8("x"))).toThrow();
    expect(() => init.c1.decrypt(new Uint8Array(0), new Uint8Array(16))).toThrow();
  });
});
