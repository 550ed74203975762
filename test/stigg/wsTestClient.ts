// A minimal graphql-transport-ws client for the emulator's tests: raw frames in, raw frames out, so
// tests can see exactly what the server sends (or does not send).
import { WebSocket } from "ws";

export interface ProtocolMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

export class WsTestClient {
  readonly messages: ProtocolMessage[] = [];
  closeCode: number | undefined;
  closeReason = "";
  readonly #waiters = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.messages.push(JSON.parse(String(data)) as ProtocolMessage);
      this.#notify();
    });
    socket.on("close", (code, reason) => {
      this.closeCode = code;
      this.closeReason = String(reason);
      this.#notify();
    });
  }

  /** `protocol` null asks for no subprotocol at all. */
  static open(url: string, protocol: string | null = "graphql-transport-ws"): Promise<WsTestClient> {
    return new Promise((resolve, reject) => {
      const socket = protocol === null ? new WebSocket(url) : new WebSocket(url, protocol);
      socket.once("open", () => resolve(new WsTestClient(socket)));
      socket.once("error", reject);
      socket.once("unexpected-response", (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
    });
  }

  /** Opens, sends connection_init with the key and waits for connection_ack. */
  static async connect(url: string, apiKey: string): Promise<WsTestClient> {
    const client = await WsTestClient.open(url);
    client.send({ type: "connection_init", payload: { headers: { "X-API-KEY": apiKey, source: "test" } } });
    await client.next((m) => m.type === "connection_ack");
    return client;
  }

  send(message: ProtocolMessage): void {
    this.socket.send(JSON.stringify(message));
  }

  subscribe(id: string, query: string, operationName?: string): void {
    this.send({ id, type: "subscribe", payload: operationName ? { query, operationName } : { query } });
  }

  /** The first message (already received or future) matching `predicate`. */
  next(predicate: (m: ProtocolMessage) => boolean, timeoutMs = 2000): Promise<ProtocolMessage> {
    return this.#waitFor(() => this.messages.find(predicate), timeoutMs, "a matching message");
  }

  closed(timeoutMs = 2000): Promise<number> {
    return this.#waitFor(() => this.closeCode, timeoutMs, "the socket to close");
  }

  close(): void {
    this.socket.terminate();
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter();
  }

  #waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }
}
