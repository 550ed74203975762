// Stigg's real-time updates (reference d.4): GraphQL subscriptions over WebSocket, protocol
// `graphql-transport-ws`, at {WS_URL}/graphql. One socket carries the three V2 subscriptions.
// The stream only reports what happened; the reader decides what it means for the cache.
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import type { AccessDeniedReason } from "../../model/entitlements.ts";
import { sdkHeaders } from "./edgeClient.ts";
import { parseEntitlementsStateDocument, type ParsedEntitlementsState } from "./entitlementsState.ts";

export const DEFAULT_WS_URL = "wss://api.stigg.io";

export interface EntitlementsUpdate {
  customerId: string;
  resourceId?: string;
  /** Empty entitlements and no reason: Stigg's way of saying "forget this entry" (there is no delete event). */
  purge: boolean;
  /** Absent when `purge`. */
  state?: ParsedEntitlementsState;
}

export interface UsageUpdate {
  customerId: string;
  resourceId?: string;
  featureId: string;
  currentUsage: number;
  usagePeriodStart?: number;
  usagePeriodEnd?: number;
}

export interface EventStreamHandlers {
  entitlementsUpdated(update: EntitlementsUpdate): void;
  usageUpdated(update: UsageUpdate): void;
  packagePublished(migrationType: string): void;
  /** The socket is acknowledged and the subscriptions are sent; `reconnect` is false the first time. */
  connected(info: { reconnect: boolean }): void;
  /** The stream went down, or a connection attempt failed (`wasConnected` false). */
  disconnected(reason: string, wasConnected: boolean): void;
  /** Stigg refused the API key; the stream has stopped for good. */
  authFailed(reason: string): void;
  /** An event that could not be understood (dropped, never applied). */
  malformed(what: string): void;
}

export interface EventStreamOptions {
  apiKey: string;
  /** WS_URL; `/graphql` is appended. */
  wsUrl?: string;
  handlers: EventStreamHandlers;
  /** Keep-alive ping interval (Stigg's SDK: 10 s). */
  pingIntervalMs?: number;
  /** A socket that answers neither a ping nor the connection_init within this long is dead. */
  pongTimeoutMs?: number;
  /** Reconnect back-off: full jitter, random(0, min(max, base·2^n)), never below `backoffMinMs`. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  backoffMinMs?: number;
  source?: string;
  instanceId?: string;
}

/** How long `starting` may hold when the first connection neither succeeds nor fails. */
const FIRST_CONNECT_GRACE_MS = 10_000;

export type EventStreamState = "idle" | "connecting" | "connected" | "backing-off" | "auth-failed" | "stopped";

const ENTITLEMENT_FIELDS = /* GraphQL */ `
  __typename
  ... on FeatureEntitlement {
    isGranted accessDeniedReason usageLimit hasUnlimitedUsage hasSoftLimit currentUsage enumValues
    usagePeriodAnchor usagePeriodStart usagePeriodEnd resetPeriod validUntil entitlementUpdatedAt
    feature { refId featureType meterType }
  }
  ... on CreditEntitlement {
    isGranted accessDeniedReason usageLimit currentUsage hasSoftLimit usagePeriodEnd validUntil
    currency { currencyId }
  }
`;

const SUBSCRIPTIONS = {
  entitlements: {
    operationName: "OnEntitlementsUpdatedV2",
    query: `subscription OnEntitlementsUpdatedV2 { entitlementsUpdatedV2 { customerId resourceId accessDeniedReason entitlements { ${ENTITLEMENT_FIELDS} } } }`,
  },
  usage: {
    operationName: "OnUsageUpdatedV2",
    query: "subscription OnUsageUpdatedV2 { usageUpdatedV2 { customerId resourceId entitlementReference { id type } usage { currentUsage usageUpdatedAt usagePeriodStart usagePeriodEnd } } }",
  },
  packages: {
    operationName: "OnPackagePublished",
    query: "subscription OnPackagePublished { packagePublished { accountId environmentId packageType packageRefId packageVersion migrationType } }",
  },
} as const;

type SubscriptionName = keyof typeof SUBSCRIPTIONS;
type Json = Record<string, unknown>;

const INVALID_KEY = /invalid api key/i;

export class EventStream {
  private readonly url: string;
  private readonly initPayload: Json;
  private readonly handlers: EventStreamHandlers;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly backoffMinMs: number;
  private socket: WebSocket | undefined;
  private currentState: EventStreamState = "idle";
  private everConnected = false;
  private startedAtMs = 0;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly ids = new Map<string, SubscriptionName>();
  private lastError: string | undefined;
  /** Connections made, for tests and logs. */
  connections = 0;

  constructor(options: EventStreamOptions) {
    const base = new URL(options.wsUrl ?? DEFAULT_WS_URL);
    if (base.protocol !== "ws:" && base.protocol !== "wss:") throw new RangeError(`wsUrl must be ws(s): ${base.href}`);
    this.url = `${base.origin}${base.pathname.replace(/\/+$/, "")}/graphql`;
    const headers = sdkHeaders(options.apiKey, options.source ?? "NODE_SERVER_SDK", options.instanceId ?? randomUUID());
    // The SDK sends only the key and identification headers in connection_init (reference d.4).
    delete headers["X-API-VERSION"];
    delete headers["accept"];
    this.initPayload = { headers };
    this.handlers = options.handlers;
    this.pingIntervalMs = options.pingIntervalMs ?? 10_000;
    this.pongTimeoutMs = options.pongTimeoutMs ?? 5_000;
    this.backoffBaseMs = options.backoffBaseMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 30_000;
    this.backoffMinMs = options.backoffMinMs ?? 100;
  }

  get state(): EventStreamState {
    return this.currentState;
  }

  /** True while events are flowing (acknowledged and subscribed). */
  get healthy(): boolean {
    return this.currentState === "connected";
  }

  /**
   * True during the stream's first connection attempt after start (at most FIRST_CONNECT_GRACE_MS): no
   * failure seen yet, events expected shortly. A restarted control plane uses it to trust what the
   * second-level cache holds instead of reading Edge once per customer before the stream is up.
   */
  get starting(): boolean {
    return !this.everConnected && this.failures === 0 && this.currentState === "connecting" && Date.now() - this.startedAtMs < FIRST_CONNECT_GRACE_MS;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  start(): void {
    if (this.currentState !== "idle") return;
    this.startedAtMs = Date.now();
    this.connect();
  }

  stop(): void {
    this.currentState = "stopped";
    clearTimeout(this.reconnectTimer);
    this.teardown(1000, "client stopping");
  }

  private connect(): void {
    this.currentState = "connecting";
    this.connections += 1;
    const socket = new WebSocket(this.url, "graphql-transport-ws", { handshakeTimeout: this.pongTimeoutMs * 2 });
    this.socket = socket;
    this.armDeadline("no connection_ack");
    socket.on("open", () => {
      this.send({ type: "connection_init", payload: this.initPayload });
    });
    socket.on("message", (data, isBinary) => {
      if (this.socket !== socket || isBinary) return;
      this.onMessage(data.toString());
    });
    socket.on("close", (code, reasonBuffer) => {
      if (this.socket !== socket) return;
      const reason = reasonBuffer.toString();
      this.onClosed(`closed ${code}${reason ? ` ${reason}` : ""}`, INVALID_KEY.test(reason));
    });
    socket.on("error", (error) => {
      if (this.socket !== socket) return;
      this.lastError = error.message;
      // 'close' follows an 'error' on a ws socket; that is where the reconnect is scheduled.
    });
    socket.on("unexpected-response", (_request, response) => {
      if (this.socket !== socket) return;
      response.resume();
      this.onClosed(`upgrade refused with HTTP ${response.statusCode ?? 0}`, response.statusCode === 401);
    });
  }

  private onMessage(text: string): void {
    let message: Json;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      message = parsed as Json;
    } catch {
      this.handlers.malformed("a WebSocket message that is not a JSON object");
      return;
    }
    switch (message["type"]) {
      case "connection_ack":
        this.onAck();
        return;
      case "ping":
        this.send({ type: "pong" });
        return;
      case "pong":
        this.armPing();
        return;
      case "next":
        this.onNext(message);
        return;
      case "error":
        this.onSubscriptionError(message);
        return;
      case "complete":
        // The server ended a subscription we need: start over rather than run without it.
        this.onClosed(`server completed subscription ${String(message["id"])}`, false);
        return;
      default:
        this.handlers.malformed(`an unknown WebSocket message type ${JSON.stringify(message["type"])}`);
    }
  }

  private onAck(): void {
    for (const name of Object.keys(SUBSCRIPTIONS) as SubscriptionName[]) {
      const id = randomUUID();
      this.ids.set(id, name);
      this.send({ id, type: "subscribe", payload: SUBSCRIPTIONS[name] });
    }
    this.currentState = "connected";
    this.failures = 0;
    this.lastError = undefined;
    this.armPing();
    const reconnect = this.everConnected;
    this.everConnected = true;
    this.handlers.connected({ reconnect });
  }

  private onNext(message: Json): void {
    const name = typeof message["id"] === "string" ? this.ids.get(message["id"]) : undefined;
    const payload = message["payload"];
    const data = isObject(payload) ? payload["data"] : undefined;
    if (name === undefined || !isObject(data)) {
      this.handlers.malformed("a subscription message without data");
      return;
    }
    try {
      if (name === "entitlements") this.handlers.entitlementsUpdated(entitlementsUpdate(data["entitlementsUpdatedV2"]));
      else if (name === "usage") {
        const update = usageUpdate(data["usageUpdatedV2"]);
        if (update) this.handlers.usageUpdated(update);
      } else {
        const published = data["packagePublished"];
        if (!isObject(published) || typeof published["migrationType"] !== "string") throw new Error("packagePublished.migrationType missing");
        this.handlers.packagePublished(published["migrationType"]);
      }
    } catch (error) {
      this.handlers.malformed(`${SUBSCRIPTIONS[name].operationName}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private onSubscriptionError(message: Json): void {
    const payload = message["payload"];
    const text = Array.isArray(payload)
      ? payload.map((e) => (isObject(e) && typeof e["message"] === "string" ? e["message"] : JSON.stringify(e))).join("; ")
      : JSON.stringify(payload);
    // Like Stigg's SDK: any subscription error tears the connection down and starts over (the
    // missed events are then covered by revalidation), except a refused key, which is final.
    this.onClosed(`subscription error: ${text}`, INVALID_KEY.test(text));
  }

  private onClosed(reason: string, invalidKey: boolean): void {
    const wasConnected = this.currentState === "connected";
    this.lastError = reason;
    this.teardown(invalidKey ? 4403 : 4000, invalidKey ? "invalid key" : "reconnecting");
    if (this.currentState === "stopped") return;
    if (!invalidKey) this.handlers.disconnected(reason, wasConnected);
    if (invalidKey) {
      this.currentState = "auth-failed";
      this.handlers.authFailed(reason);
      return;
    }
    this.currentState = "backing-off";
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** this.failures);
    this.failures += 1;
    const delay = Math.max(this.backoffMinMs, Math.random() * ceiling);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.currentState === "backing-off") this.connect();
    }, delay);
  }

  private teardown(code: number, reason: string): void {
    clearTimeout(this.pingTimer);
    clearTimeout(this.deadlineTimer);
    this.pingTimer = undefined;
    this.deadlineTimer = undefined;
    this.ids.clear();
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    socket.removeAllListeners("message");
    socket.on("error", () => undefined);
    if (socket.readyState === WebSocket.OPEN) socket.close(code, reason);
    else socket.terminate();
    // A peer that never answers the close frame must not hold the socket open.
    setTimeout(() => socket.terminate(), 1_000).unref();
  }

  /** After a pong (or the ack), wait `pingIntervalMs`, ping, and expect a pong within `pongTimeoutMs`. */
  private armPing(): void {
    clearTimeout(this.pingTimer);
    clearTimeout(this.deadlineTimer);
    this.pingTimer = setTimeout(() => {
      this.send({ type: "ping" });
      this.armDeadline("no pong");
    }, this.pingIntervalMs);
  }

  private armDeadline(what: string): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => this.onClosed(`silent socket: ${what} within ${this.pongTimeoutMs} ms`, false), this.pongTimeoutMs);
  }

  private send(message: Json): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalId(obj: Json, key: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new Error(`${key} must be a string`);
  return value;
}

function entitlementsUpdate(raw: unknown): EntitlementsUpdate {
  if (!isObject(raw)) throw new Error("entitlementsUpdatedV2 must be an object");
  const customerId = optionalId(raw, "customerId");
  if (customerId === undefined) throw new Error("customerId missing");
  const resourceId = optionalId(raw, "resourceId");
  const list = raw["entitlements"];
  if (!Array.isArray(list)) throw new Error("entitlements must be an array");
  const reason = raw["accessDeniedReason"] as AccessDeniedReason | null | undefined;
  const update: EntitlementsUpdate = { customerId, purge: list.length === 0 && (reason === null || reason === undefined) };
  if (resourceId !== undefined) update.resourceId = resourceId;
  if (!update.purge) {
    // Same validation as an Edge body: an event is either fully understood or dropped.
    update.state = parseEntitlementsStateDocument({ data: { entitlementsState: { entitlementsV2: list, accessDeniedReason: reason ?? null } } }, customerId, resourceId);
  }
  return update;
}

function date(obj: Json, key: string): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === "number" ? value : typeof value === "string" ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new Error(`${key} is not a date`);
  return ms;
}

/** Undefined for credit usage (credits are not modelled). */
function usageUpdate(raw: unknown): UsageUpdate | undefined {
  if (!isObject(raw)) throw new Error("usageUpdatedV2 must be an object");
  const customerId = optionalId(raw, "customerId");
  if (customerId === undefined) throw new Error("customerId missing");
  const reference = raw["entitlementReference"];
  const usage = raw["usage"];
  if (!isObject(reference) || !isObject(usage)) throw new Error("entitlementReference and usage must be objects");
  if (reference["type"] === "CREDIT") return undefined;
  const featureId = optionalId(reference, "id");
  if (featureId === undefined) throw new Error("entitlementReference.id missing");
  const currentUsage = usage["currentUsage"];
  if (typeof currentUsage !== "number" || !Number.isFinite(currentUsage)) throw new Error("usage.currentUsage must be a number");
  const update: UsageUpdate = { customerId, featureId, currentUsage };
  const resourceId = optionalId(raw, "resourceId");
  if (resourceId !== undefined) update.resourceId = resourceId;
  const start = date(usage, "usagePeriodStart");
  if (start !== undefined) update.usagePeriodStart = start;
  const end = date(usage, "usagePeriodEnd");
  if (end !== undefined) update.usagePeriodEnd = end;
  return update;
}
