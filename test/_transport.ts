/**
 * Both transports for the protocol suites (TRANSPORTS, rawSend), and a raw
 * WebSocket client that sends frames as bytes and collects every answer and
 * the close, with no SDK in between (openRaw).
 */
import { decodeAnswer, encodeRequest, type AnswerFrame } from "../src/wire/frame.ts";

export interface RawWs {
  ws: WebSocket;
  /** Every message received, decoded (or the raw bytes when it did not decode). */
  answers: AnswerFrame[];
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  send(bytes: Uint8Array | string): void;
  /** The answer with this id (waits up to `ms`). */
  answer(id: string, ms?: number): Promise<AnswerFrame>;
  close(): void;
}

/** Open `ws+unix://SOCKET:/v1/ws` (or any ws URL) and wait for it to open. */
export async function openRaw(url: string, opts: Record<string, unknown> = {}): Promise<RawWs> {
  const ws = new WebSocket(url.startsWith("/") ? `ws+unix://${url}:/v1/ws` : url, opts as any);
  ws.binaryType = "arraybuffer";
  const answers: AnswerFrame[] = [];
  const waiters = new Map<string, (a: AnswerFrame) => void>();
  const closed = new Promise<{ code: number; reason: string }>((r) => (ws.onclose = (e) => r({ code: e.code, reason: e.reason })));
  ws.onmessage = (e) => {
    const d = decodeAnswer(new Uint8Array(e.data as ArrayBuffer));
    if (!d.ok) throw new Error(`undecodable answer: ${d.error}`);
    answers.push(d.frame);
    waiters.get(d.frame.id)?.(d.frame);
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`cannot open ${url}`));
  });
  return {
    ws,
    answers,
    closed,
    send: (b) => ws.send(b),
    answer(id, ms = 5_000) {
      const have = answers.find((a) => a.id === id);
      if (have) return Promise.resolve(have);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no answer for ${id} within ${ms} ms`)), ms);
        waiters.set(id, (a) => (clearTimeout(t), resolve(a)));
      });
    },
    close: () => ws.close(),
  };
}

/** The transports the protocol suites run over. */
export const TRANSPORTS = ["http", "ws"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

export interface RawAnswer {
  status: number;
  header(name: string): string | null;
  text: string;
  json: any;
}

const open = new Map<string, Promise<RawWs>>();
let nextId = 0;

/**
 * One request on the unix socket `socket`, over HTTP (Bun's fetch) or as a
 * message on a WebSocket connection kept per socket (opened on first use).
 * Nothing is signed or checked here.
 */
export async function rawSend(
  kind: TransportName,
  socket: string,
  method: string,
  target: string,
  init: { authorization?: string | undefined; body?: string | Uint8Array | undefined; headers?: Record<string, string> } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.authorization) headers.authorization = init.authorization;
  if (kind === "http") {
    const res = await fetch("http://localhost" + target, { method, headers, body: init.body as any, unix: socket } as RequestInit);
    const text = await res.text();
    return { status: res.status, header: (n) => res.headers.get(n), text, json: parseJson(text) };
  }
  let conn = open.get(socket);
  if (!conn) open.set(socket, (conn = openRaw(socket)));
  const c = await conn;
  c.closed.then(() => open.delete(socket));
  const id = `t${++nextId}`;
  c.send(encodeRequest(id, method, target, headers, init.body));
  const a = await c.answer(id);
  return { status: a.status, header: (n) => a.headers[n.toLowerCase()] ?? null, text: a.body, json: parseJson(a.body) };
}

/** Close the WebSocket connections rawSend opened. */
export function closeRaw(): void {
  for (const c of open.values()) void c.then((x) => x.close(), () => {});
  open.clear();
}

function parseJson(t: string): any {
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}
