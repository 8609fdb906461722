/**
 * Admin client over the owner-only admin socket (no HMAC: the OS user is the
 * admin, and the socket is 0600 in a 0700 directory). Nothing is sent until
 * the socket passed the owner check of the unix transport.
 * @module
 */
import { adminSocketPath, defaultSocketPath } from "../config/index.ts";
import { createUnixTransport, type Transport } from "./transport.ts";
import { raiseFromResponse } from "./client.ts";

export class AdminClient {
  readonly socket: string;
  private readonly transport: Transport;

  /**
   * `socket` is the worker socket path (hush.sock); admin.sock is beside it.
   * `socketOwner`: the user that must own them (default: HUSH_SOCKET_OWNER, else this process's uid).
   */
  constructor(opts: { socket?: string; retries?: number; socketOwner?: string | number } = {}) {
    this.socket = adminSocketPath(opts.socket ?? defaultSocketPath());
    this.transport = createUnixTransport(this.socket, { retries: opts.retries ?? 2, socketOwner: opts.socketOwner });
  }

  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const res = await this.transport.request(method, path, text === undefined ? {} : { "content-type": "application/json" }, text);
    if (res.status >= 400) raiseFromResponse(res);
    return JSON.parse(res.body) as T;
  }

  async text(path: string): Promise<string> {
    const res = await this.transport.request("GET", path, {});
    if (res.status >= 400) raiseFromResponse(res);
    return res.body;
  }

  close(): void {
    this.transport.close();
  }
}
