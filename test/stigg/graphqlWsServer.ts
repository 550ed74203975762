// A `graphql-transport-ws` server (the protocol of the graphql-ws library Stigg's SDKs use), written
// on `ws` so faults can reach below the protocol: silence, latency, refused upgrades, dropped sockets.
// Close codes follow graphql-ws: 4400 bad message, 4401 subscribe before ack, 4406 wrong subprotocol,
// 4408 no connection_init in time, 4409 duplicate id, 4429 second connection_init.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, WebSocket } from "ws";
import {
  execute,
  getOperationAST,
  parse,
  validate,
  GraphQLError,
  formatError,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
} from "graphql";
import type { WsFault } from "./faults.ts";

export const GRAPHQL_TRANSPORT_WS_PROTOCOL = "graphql-transport-ws";

export interface WsRequestRecord {
  kind: "connect" | "refused" | "init" | "auth-failed" | "subscribe" | "complete" | "closed";
  operationName?: string;
  rootField?: string;
  /** connection_init payload headers, names lower-cased. */
  headers?: Record<string, string>;
  at: number;
}

export interface GraphqlWsServerOptions {
  schema: GraphQLSchema;
  /** Decides on the connection_init payload's headers. */
  authorize(headers: Record<string, string>): boolean;
  /** Root value for queries and mutations sent over the socket. */
  rootValue(): Record<string, unknown>;
  fault(): WsFault;
  authFailureCloseCode: number;
  connectionInitTimeoutMs: number;
  onRecord(record: WsRequestRecord): void;
}

interface ActiveSubscription {
  id: string;
  document: DocumentNode;
  operationName: string | undefined;
  variables: Record<string, unknown> | undefined;
  rootField: string;
}

/** One connected client. */
class Connection {
  acknowledged = false;
  initReceived = false;
  readonly subscriptions = new Map<string, ActiveSubscription>();
  readonly connectedAt = Date.now();
  headers: Record<string, string> = {};
  #initTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: WebSocket,
    private readonly server: GraphqlWsServer,
  ) {}

  startInitTimer(ms: number): void {
    this.#initTimer = setTimeout(() => {
      if (!this.initReceived) this.close(4408, "Connection initialisation timeout");
    }, ms);
  }

  stopInitTimer(): void {
    clearTimeout(this.#initTimer);
  }

  send(message: object): void {
    const fault = this.server.fault();
    if (fault.silent) return;
    const text = JSON.stringify(message);
    const deliver = (): void => {
      if (this.socket.readyState === WebSocket.OPEN && !this.server.fault().silent) this.socket.send(text);
    };
    if (fault.latencyMs && fault.latencyMs > 0) setTimeout(deliver, fault.latencyMs).unref();
    else deliver();
  }

  close(code: number, reason: string): void {
    this.stopInitTimer();
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, reason);
    }
  }
}

export interface SubscriptionInfo {
  id: string;
  rootField: string;
  operationName: string | undefined;
}

export class GraphqlWsServer {
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection>();
  readonly #options: GraphqlWsServerOptions;

  constructor(options: GraphqlWsServerOptions) {
    this.#options = options;
    // autoPong off: a "silent" server must not answer ws-level pings either.
    this.#wss = new WebSocketServer({
      noServer: true,
      autoPong: false,
      handleProtocols: (protocols) => (protocols.has(GRAPHQL_TRANSPORT_WS_PROTOCOL) ? GRAPHQL_TRANSPORT_WS_PROTOCOL : false),
    });
  }

  fault(): WsFault {
    return this.#options.fault();
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.fault().refuseConnections) {
      this.#options.onRecord({ kind: "refused", at: Date.now() });
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws));
  }

  #accept(ws: WebSocket): void {
    const connection = new Connection(ws, this);
    this.#connections.add(connection);
    this.#options.onRecord({ kind: "connect", at: Date.now() });
    ws.on("ping", (data) => {
      if (!this.fault().silent) ws.pong(data);
    });
    ws.on("close", () => {
      connection.stopInitTimer();
      this.#connections.delete(connection);
      this.#options.onRecord({ kind: "closed", at: Date.now() });
    });
    ws.on("error", () => ws.terminate());
    if (ws.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL) {
      connection.close(4406, "Subprotocol not acceptable");
      return;
    }
    connection.startInitTimer(this.#options.connectionInitTimeoutMs);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return connection.close(4400, "Invalid message received");
      this.#onMessage(connection, String(data));
    });
  }

  #onMessage(connection: Connection, text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return connection.close(4400, "Invalid message received");
    }
    if (typeof message !== "object" || message === null || typeof (message as { type?: unknown }).type !== "string") {
      return connection.close(4400, "Invalid message received");
    }
    const { type, id, payload } = message as { type: string; id?: unknown; payload?: unknown };
    switch (type) {
      case "connection_init":
        return this.#onInit(connection, payload);
      case "ping":
        return connection.send(payload === undefined ? { type: "pong" } : { type: "pong", payload });
      case "pong":
        return;
      case "subscribe":
        if (typeof id !== "string" || !id) return connection.close(4400, "Invalid message received");
        return this.#onSubscribe(connection, id, payload);
      case "complete":
        if (typeof id !== "string") return connection.close(4400, "Invalid message received");
        if (connection.subscriptions.delete(id)) this.#options.onRecord({ kind: "complete", at: Date.now() });
        return;
      default:
        return connection.close(4400, `Invalid message received`);
    }
  }

  #onInit(connection: Connection, payload: unknown): void {
    if (connection.initReceived) return connection.close(4429, "Too many initialisation requests");
    connection.initReceived = true;
    connection.stopInitTimer();
    const headers = headersFromInitPayload(payload);
    connection.headers = headers;
    this.#options.onRecord({ kind: "init", headers, at: Date.now() });
    if (!this.#options.authorize(headers)) {
      this.#options.onRecord({ kind: "auth-failed", headers, at: Date.now() });
      return connection.close(this.#options.authFailureCloseCode, "Invalid API key");
    }
    connection.acknowledged = true;
    connection.send({ type: "connection_ack" });
  }

  #onSubscribe(connection: Connection, id: string, payload: unknown): void {
    if (!connection.acknowledged) return connection.close(4401, "Unauthorized");
    if (connection.subscriptions.has(id)) return connection.close(4409, `Subscriber for ${id} already exists`);
    const request = payload as { query?: unknown; operationName?: unknown; variables?: unknown } | undefined;
    if (!request || typeof request.query !== "string") return connection.close(4400, "Invalid message received");
    const operationName = typeof request.operationName === "string" ? request.operationName : undefined;
    const variables =
      request.variables && typeof request.variables === "object" ? (request.variables as Record<string, unknown>) : undefined;
    let document: DocumentNode;
    try {
      document = parse(request.query);
    } catch (error) {
      return connection.send({ id, type: "error", payload: [toErrorJson(error)] });
    }
    const errors = validate(this.#options.schema, document);
    const operation = getOperationAST(document, operationName);
    if (errors.length > 0 || !operation) {
      const list = errors.length > 0 ? errors.map(toErrorJson) : [{ message: "Unable to identify operation" }];
      return connection.send({ id, type: "error", payload: list });
    }
    const first = operation.selectionSet.selections[0];
    const rootField = first && first.kind === "Field" ? first.name.value : "";
    this.#options.onRecord({
      kind: "subscribe",
      operationName: operationName ?? operation.name?.value,
      rootField,
      headers: connection.headers,
      at: Date.now(),
    });
    if (operation.operation !== "subscription") {
      const result = execute({
        schema: this.#options.schema,
        document,
        rootValue: this.#options.rootValue(),
        variableValues: variables,
        operationName,
      }) as ExecutionResult;
      connection.send({ id, type: "next", payload: result });
      connection.send({ id, type: "complete" });
      return;
    }
    const refusal = this.fault().subscribeError;
    if (refusal !== undefined) return connection.send({ id, type: "error", payload: [{ message: refusal }] });
    connection.subscriptions.set(id, { id, document, operationName, variables, rootField });
  }

  /** Sends one event to every subscription on `rootField`; returns how many received it. */
  publish(rootField: string, payload: unknown): number {
    let delivered = 0;
    for (const connection of this.#connections) {
      if (!connection.acknowledged) continue;
      for (const subscription of connection.subscriptions.values()) {
        if (subscription.rootField !== rootField) continue;
        const result = execute({
          schema: this.#options.schema,
          document: subscription.document,
          rootValue: { [rootField]: payload },
          variableValues: subscription.variables,
          operationName: subscription.operationName,
        }) as ExecutionResult;
        connection.send({ id: subscription.id, type: "next", payload: result });
        if (!this.fault().silent) delivered += 1;
      }
    }
    return delivered;
  }

  subscriptions(): SubscriptionInfo[] {
    const out: SubscriptionInfo[] = [];
    for (const connection of this.#connections) {
      for (const s of connection.subscriptions.values()) {
        out.push({ id: s.id, rootField: s.rootField, operationName: s.operationName });
      }
    }
    return out;
  }

  connectionCount(): number {
    return this.#connections.size;
  }

  /** Drops every socket: with a close code when given, otherwise abruptly (no close frame). */
  dropAll(closeCode?: number, reason = "Going away"): void {
    for (const connection of this.#connections) {
      if (closeCode === undefined) connection.socket.terminate();
      else connection.close(closeCode, reason);
    }
  }

  close(): void {
    for (const connection of this.#connections) {
      connection.stopInitTimer();
      connection.socket.terminate();
    }
    this.#connections.clear();
    this.#wss.close();
  }
}

function headersFromInitPayload(payload: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!payload || typeof payload !== "object") return out;
  const record = payload as Record<string, unknown>;
  const nested = record["headers"];
  const sources = [record, nested && typeof nested === "object" ? (nested as Record<string, unknown>) : {}];
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) {
      if (typeof value === "string") out[key.toLowerCase()] = value;
    }
  }
  return out;
}

function toErrorJson(error: unknown): { message: string } {
  if (error instanceof GraphQLError) return formatError(error);
  return { message: error instanceof Error ? error.message : String(error) };
}
