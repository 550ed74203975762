// A Stigg emulator for tests: Edge API, GraphQL over HTTP and graphql-transport-ws subscriptions on one
// loopback HTTP server, with an admin API (plain methods) and fault injection. Protocol details follow
// ../../../shared/reference/stigg-sidecar.md (d.4, d.5, e.1, e.2, i) and what @stigg/node-server-sdk
// 3.95.0 actually sends; see README.md beside this file.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import {
  execute,
  formatError,
  getOperationAST,
  parse,
  validate,
  GraphQLError,
  type DocumentNode,
  type ExecutionResult,
} from "graphql";
import { EDGE_ENTITLEMENTS_DOCUMENT, EDGE_ENTITLEMENTS_STATE_DOCUMENT, stiggSchema } from "./schema.ts";
import {
  CustomerStore,
  creditEntitlementObject,
  entitlementsStateObject,
  entitlementUnionList,
  featureEntitlementObject,
  legacyEntitlementList,
  legacyEntitlementObject,
  toIso,
  type CustomerSpec,
  type GraphqlObject,
  type StoredEntity,
} from "./customers.ts";
import {
  FaultPlan,
  RATE_LIMIT_BODY,
  mistype,
  sleep,
  writeJson,
  type HttpFault,
  type Surface,
  type WsFault,
} from "./faults.ts";
import { GraphqlWsServer, type SubscriptionInfo, type WsRequestRecord } from "./graphqlWsServer.ts";
import { EdgeRateLimiter, type EdgeRateLimit } from "./edgeRateLimit.ts";

export type { CustomerSpec, EmulatedEntitlement, EmulatedCreditEntitlement, EntitlementSetSpec } from "./customers.ts";
export type { HttpFault, HttpFaultKind, WsFault, Surface } from "./faults.ts";
export type { SubscriptionInfo } from "./graphqlWsServer.ts";
export type { EdgeRateLimit } from "./edgeRateLimit.ts";

export const DEFAULT_API_KEY = "emulator-server-key";

export interface StiggEmulatorOptions {
  /** Accepted server API keys (X-API-KEY). Default: [DEFAULT_API_KEY]. */
  apiKeys?: string[];
  /** Customers present from the start. */
  customers?: Record<string, CustomerSpec>;
  /**
   * Close code for a connection_init with a bad key. Default 4500 with reason "Invalid API key": that is
   * what a graphql-ws server sends when its onConnect throws, it is fatal to the graphql-ws client (no
   * reconnect storm) and the Node SDK gives up on exactly that reason. 4403 is the other plausible choice.
   */
  wsAuthFailureCloseCode?: number;
  /** How long a socket may stay without connection_init (graphql-ws default 3 s). */
  wsConnectionInitTimeoutMs?: number;
  /** Where unknown GraphQL operations are reported. Default: one console.warn per operation name. */
  onUnknownOperation?: (operationName: string, errors: readonly string[]) => void;
  /** Edge rate limit per API key (Stigg: 6,000 per minute); off by default. */
  edgeRateLimit?: EdgeRateLimit;
  /** Account/environment ids used in packagePublished events. */
  accountId?: string;
  environmentId?: string;
}

export interface RequestRecord {
  surface: Surface | "health";
  /**
   * Edge: "entitlements-state", "entitlements", "sdk-configuration", "subscriptions", "not-found";
   * GraphQL: the operation name (or "anonymous"); WebSocket: "connect", "refused", "init", "auth-failed",
   * "subscribe", "complete", "closed"; health: "health".
   */
  endpoint: string;
  method: string;
  path: string;
  customerId?: string;
  resourceId?: string;
  operationName?: string;
  /** GraphQL root field of a subscription. */
  rootField?: string;
  apiKey?: string;
  /** Request headers, names lower-cased (WebSocket init: the connection_init payload headers). */
  headers: Record<string, string>;
  status: number | "dropped";
  at: number;
}

export interface RequestFilter {
  customerId?: string;
  resourceId?: string | null;
  surface?: RequestRecord["surface"];
}

export interface PublishedEvent {
  /** Subscription root field: entitlementsUpdatedV2, entitlementsUpdated, usageUpdatedV2, usageUpdated, packagePublished, creditBalanceUpdated. */
  type: string;
  payload: GraphqlObject;
  /** Subscriptions the event was sent to. */
  delivered: number;
  at: number;
}

export interface ReportedUsage {
  customerId: string;
  featureId: string;
  resourceId?: string;
  value: number;
  updateBehavior: "DELTA" | "SET";
  idempotencyKey?: string;
  createdAt?: string;
  dimensions?: unknown;
  at: number;
}

export interface ReportedEvent {
  customerId: string;
  eventName: string;
  idempotencyKey: string;
  resourceId?: string;
  dimensions?: unknown;
  timestamp?: string;
  at: number;
}

export interface StiggEmulator {
  /** API base (Stigg's API_URL / SDK baseUri); GraphQL lives at `${url}/graphql`. */
  readonly url: string;
  /** Edge base (EDGE_API_URL / SDK baseEdgeUri). Same server. */
  readonly edgeUrl: string;
  /** The GraphQL-over-HTTP endpoint. */
  readonly graphqlUrl: string;
  /** WebSocket base (WS_URL / SDK wsUrl); clients append /graphql. */
  readonly wsUrl: string;
  /** The full WebSocket endpoint, `${wsUrl}/graphql`. */
  readonly wsEndpointUrl: string;
  /** The first configured API key. */
  readonly apiKey: string;
  readonly port: number;

  /** Every request, in arrival order (HTTP and WebSocket lifecycle). */
  readonly requests: readonly RequestRecord[];
  /** Every subscription event published. */
  readonly events: readonly PublishedEvent[];
  readonly reportedUsage: readonly ReportedUsage[];
  readonly reportedEvents: readonly ReportedEvent[];
  /** GraphQL operations the schema rejected, by name. */
  readonly unknownOperations: readonly string[];

  setCustomer(customerId: string, spec: CustomerSpec): void;
  removeCustomer(customerId: string): void;
  setUsage(customerId: string, featureId: string, usage: number, resourceId?: string): void;
  publishPackage(migrationType: "ALL_CUSTOMERS" | "NEW_CUSTOMERS", packageRefId?: string): void;
  publishCreditBalance(customerId: string, currencyId: string, currentBalance: number, resourceId?: string): void;
  /** Current usage the emulator holds, or undefined when the customer/feature is unknown. */
  usageOf(customerId: string, featureId: string, resourceId?: string): number | undefined;

  setFault(surface: "edge" | "graphql", fault: HttpFault | undefined): void;
  setFault(surface: "ws", fault: WsFault): void;
  clearFaults(): void;
  /** Turns Stigg's Edge rate limit on (or off with undefined); counting restarts. */
  setEdgeRateLimit(limit: EdgeRateLimit | undefined): void;
  /** Drops every open WebSocket: abruptly (no close frame) unless a close code is given. */
  dropWebSockets(closeCode?: number, reason?: string): void;

  /** Requests to an endpoint; `resourceId: null` counts only requests without a resource. */
  requestCount(endpoint: string, filter?: RequestFilter): number;
  subscriptions(): SubscriptionInfo[];
  webSocketCount(): number;
  /** Resolves once `condition` holds (checked every few ms); rejects after timeoutMs. */
  waitUntil(condition: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Resolves once at least `count` subscriptions on a root field are active. */
  waitForSubscription(rootField: string, count?: number, timeoutMs?: number): Promise<void>;
  /** Empties the request, event and report logs. */
  resetLogs(): void;
  close(): Promise<void>;
}

class EmulatorError extends Error {
  readonly extensions: { code: string };
  constructor(message: string, code: string) {
    super(message);
    this.extensions = { code };
  }
}

const MAX_GRAPHQL_BODY_BYTES = 4 * 1024 * 1024;
const DEFAULT_HUGE_BYTES = 8 * 1024 * 1024;

export async function startStiggEmulator(options: StiggEmulatorOptions = {}): Promise<StiggEmulator> {
  const emulator = new Emulator(options);
  await emulator.listen();
  return emulator;
}

class Emulator implements StiggEmulator {
  url = "";
  edgeUrl = "";
  graphqlUrl = "";
  wsUrl = "";
  wsEndpointUrl = "";
  port = 0;
  readonly apiKey: string;
  readonly requests: RequestRecord[] = [];
  readonly events: PublishedEvent[] = [];
  readonly reportedUsage: ReportedUsage[] = [];
  readonly reportedEvents: ReportedEvent[] = [];
  readonly unknownOperations: string[] = [];

  readonly #apiKeys: Set<string>;
  readonly #store = new CustomerStore();
  readonly #faults = new FaultPlan();
  readonly #server: Server;
  readonly #ws: GraphqlWsServer;
  readonly #options: StiggEmulatorOptions;
  readonly #edgeStateDocument = parse(EDGE_ENTITLEMENTS_STATE_DOCUMENT);
  readonly #edgeEntitlementsDocument = parse(EDGE_ENTITLEMENTS_DOCUMENT);
  readonly #warnedOperations = new Set<string>();
  readonly #closing = new AbortController();
  readonly #edgeLimiter = new EdgeRateLimiter();

  constructor(options: StiggEmulatorOptions) {
    this.#options = options;
    const keys = options.apiKeys ?? [DEFAULT_API_KEY];
    if (keys.length === 0) throw new Error("startStiggEmulator: apiKeys must not be empty");
    this.#apiKeys = new Set(keys);
    this.apiKey = keys[0] as string;
    this.#edgeLimiter.set(options.edgeRateLimit);
    const now = Date.now();
    for (const [customerId, spec] of Object.entries(options.customers ?? {})) this.#store.set(customerId, spec, now);

    this.#ws = new GraphqlWsServer({
      schema: stiggSchema,
      authorize: (headers) => this.#apiKeys.has(headers["x-api-key"] ?? ""),
      rootValue: () => this.#rootValue(),
      fault: () => this.#faults.ws,
      authFailureCloseCode: options.wsAuthFailureCloseCode ?? 4500,
      connectionInitTimeoutMs: options.wsConnectionInitTimeoutMs ?? 3000,
      onRecord: (record) => this.#recordWs(record),
    });
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: "internal_error", message: String(error) }));
        } else res.destroy();
      });
    });
    this.#server.on("upgrade", (req, socket, head) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== "/graphql") {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      this.#ws.handleUpgrade(req, socket, head);
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => {
        const { port } = this.#server.address() as AddressInfo;
        this.port = port;
        this.url = `http://127.0.0.1:${port}`;
        this.edgeUrl = this.url;
        this.graphqlUrl = `${this.url}/graphql`;
        this.wsUrl = `ws://127.0.0.1:${port}`;
        this.wsEndpointUrl = `${this.wsUrl}/graphql`;
        resolve();
      });
    });
  }

  // ---- admin API ----

  setCustomer(customerId: string, spec: CustomerSpec): void {
    const changed = this.#store.set(customerId, spec, Date.now());
    for (const entity of changed) this.#publishEntity(entity);
  }

  removeCustomer(customerId: string): void {
    // Stigg has no deletion event; an empty update makes SDKs purge the entry and refetch lazily.
    for (const entity of this.#store.remove(customerId)) this.#publishEntity(entity);
  }

  setUsage(customerId: string, featureId: string, usage: number, resourceId?: string): void {
    const entity = this.#store.entity(customerId, resourceId);
    const entry = entity?.entitlements.get(featureId);
    if (!entity || !entry) throw new Error(`setUsage: ${customerId}/${resourceId ?? "-"} has no feature ${featureId}`);
    entry.currentUsage = usage;
    entry.usageUpdatedAt = Date.now();
    this.#publishUsage(entity, featureId);
  }

  usageOf(customerId: string, featureId: string, resourceId?: string): number | undefined {
    return this.#store.entitlement(customerId, featureId, resourceId)?.currentUsage;
  }

  publishPackage(migrationType: "ALL_CUSTOMERS" | "NEW_CUSTOMERS", packageRefId = "plan-emulated"): void {
    this.#publish("packagePublished", {
      accountId: this.#options.accountId ?? "account-emulated",
      environmentId: this.#options.environmentId ?? "environment-emulated",
      packageType: "PLAN",
      packageRefId,
      packageVersion: 1,
      migrationType,
    });
  }

  publishCreditBalance(customerId: string, currencyId: string, currentBalance: number, resourceId?: string): void {
    this.#publish("creditBalanceUpdated", {
      customerId,
      resourceId: resourceId ?? null,
      currencyId,
      currency: { currencyId, displayName: currencyId, symbol: null, units: null },
      currentBalance,
      totalConsumed: 0,
      totalGranted: currentBalance,
      validUntil: null,
    });
  }

  // ---- faults ----

  setFault(surface: Surface, fault: HttpFault | WsFault | undefined): void {
    if (surface === "ws") this.#faults.ws = { ...(fault as WsFault | undefined) };
    else this.#faults.set(surface, fault as HttpFault | undefined);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  setEdgeRateLimit(limit: EdgeRateLimit | undefined): void {
    this.#edgeLimiter.set(limit);
  }

  dropWebSockets(closeCode?: number, reason?: string): void {
    this.#ws.dropAll(closeCode, reason);
  }

  // ---- observation ----

  requestCount(endpoint: string, filter: RequestFilter = {}): number {
    return this.requests.filter(
      (r) =>
        r.endpoint === endpoint &&
        (filter.customerId === undefined || r.customerId === filter.customerId) &&
        (filter.resourceId === undefined || (r.resourceId ?? null) === filter.resourceId) &&
        (filter.surface === undefined || r.surface === filter.surface),
    ).length;
  }

  subscriptions(): SubscriptionInfo[] {
    return this.#ws.subscriptions();
  }

  webSocketCount(): number {
    return this.#ws.connectionCount();
  }

  async waitUntil(condition: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`Stigg emulator: timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(3);
    }
  }

  waitForSubscription(rootField: string, count = 1, timeoutMs = 5000): Promise<void> {
    return this.waitUntil(
      () => this.#ws.subscriptions().filter((s) => s.rootField === rootField).length >= count,
      timeoutMs,
      `${count} subscription(s) on ${rootField}`,
    );
  }

  resetLogs(): void {
    this.requests.length = 0;
    this.events.length = 0;
    this.reportedUsage.length = 0;
    this.reportedEvents.length = 0;
    this.unknownOperations.length = 0;
  }

  close(): Promise<void> {
    this.#closing.abort();
    this.#ws.close();
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  // ---- publishing ----

  #publish(type: string, payload: GraphqlObject): void {
    const delivered = this.#ws.publish(type, payload);
    this.events.push({ type, payload, delivered, at: Date.now() });
  }

  #publishEntity(entity: StoredEntity): void {
    const known = this.#store.has(entity.customerId);
    this.#publish("entitlementsUpdatedV2", {
      customerId: entity.customerId,
      resourceId: entity.resourceId ?? null,
      accessDeniedReason: known ? entity.accessDeniedReason ?? null : null,
      entitlements: entitlementUnionList(entity),
    });
    this.#publish("entitlementsUpdated", {
      customerId: entity.customerId,
      resourceId: entity.resourceId ?? null,
      entitlements: legacyEntitlementList(entity),
    });
  }

  #publishUsage(entity: StoredEntity, featureId: string): void {
    const entry = entity.entitlements.get(featureId);
    if (!entry) return;
    const usagePeriodStart = toIso(entry.spec.usagePeriodStart);
    const usagePeriodEnd = toIso(entry.spec.usagePeriodEnd);
    this.#publish("usageUpdatedV2", {
      customerId: entity.customerId,
      resourceId: entity.resourceId ?? null,
      entitlementReference: { id: featureId, type: "FEATURE" },
      usage: { currentUsage: entry.currentUsage, usageUpdatedAt: toIso(entry.usageUpdatedAt), usagePeriodStart, usagePeriodEnd },
    });
    this.#publish("usageUpdated", {
      usage: {
        customerId: entity.customerId,
        resourceId: entity.resourceId ?? null,
        featureId,
        currentUsage: entry.currentUsage,
        usagePeriodStart,
        usagePeriodEnd,
        nextResetDate: usagePeriodEnd,
      },
      entitlement: legacyEntitlementObject(entity, entry),
    });
  }

  // ---- GraphQL root resolvers ----

  #rootValue(): Record<string, unknown> {
    type Query = { customerId: string; resourceId?: string | null };
    type Options = { requestedUsage?: number | null; requestedValues?: string[] | null } | null | undefined;
    const store = this.#store;
    return {
      entitlementsState: ({ query }: { query: Query }) => entitlementsStateObject(store, query.customerId, query.resourceId),
      cachedEntitlements: ({ query }: { query: Query }) => legacyEntitlementList(store.entity(query.customerId, query.resourceId)),
      entitlements: ({ query }: { query: Query }) => legacyEntitlementList(store.entity(query.customerId, query.resourceId)),
      entitlement: ({ query }: { query: Query & { featureId: string; options?: Options } }) => {
        const entity = store.entity(query.customerId, query.resourceId);
        const entry = entity?.entitlements.get(query.featureId);
        const requestedUsage = query.options?.requestedUsage ?? undefined;
        const requestedValues = query.options?.requestedValues ?? undefined;
        if (entity && entry) return legacyEntitlementObject(entity, entry, requestedUsage, requestedValues);
        return {
          __typename: "Entitlement",
          isGranted: false,
          accessDeniedReason: entity ? "NoFeatureEntitlementInSubscription" : "CustomerNotFound",
          customerId: query.customerId,
          resourceId: query.resourceId ?? null,
          hasUnlimitedUsage: false,
          requestedUsage: requestedUsage ?? null,
          requestedValues: requestedValues ?? null,
          feature: null,
        };
      },
      entitlementV2: ({ query }: { query: Query & { featureId?: string | null; currencyId?: string | null; options?: Options } }) => {
        const entity = store.entity(query.customerId, query.resourceId);
        if (!entity) return null;
        if (query.featureId) {
          const entry = entity.entitlements.get(query.featureId);
          return entry
            ? featureEntitlementObject(entry, query.options?.requestedUsage ?? undefined, query.options?.requestedValues ?? undefined)
            : null;
        }
        const credit = query.currencyId ? entity.credits.get(query.currencyId) : undefined;
        return credit ? creditEntitlementObject(credit) : null;
      },
      sdkConfiguration: () => ({ sentryDsn: null, isWidgetWatermarkEnabled: false, showWatermark: false }),
      reportUsage: ({ input }: { input: ReportUsageArgs }) => this.#reportUsage(input),
      reportUsageBulk: ({ input }: { input: { usages: ReportUsageArgs[] } }) => {
        // Validate all first so a bad item rejects the batch without applying a part of it.
        for (const usage of input.usages) this.#usageTarget(usage);
        return input.usages.map((usage) => this.#reportUsage(usage));
      },
      reportEvent: ({ events }: { events: { usageEvents: ReportEventArgs[] } }) => {
        const at = Date.now();
        for (const event of events.usageEvents) {
          const record: ReportedEvent = {
            customerId: event.customerId,
            eventName: event.eventName,
            idempotencyKey: event.idempotencyKey,
            at,
          };
          if (event.resourceId) record.resourceId = event.resourceId;
          if (event.dimensions !== undefined && event.dimensions !== null) record.dimensions = event.dimensions;
          if (event.timestamp) record.timestamp = String(event.timestamp);
          this.reportedEvents.push(record);
        }
        return null;
      },
    };
  }

  #usageTarget(input: ReportUsageArgs): { entity: StoredEntity; featureId: string } {
    if (!this.#store.has(input.customerId)) {
      throw new EmulatorError(`Customer not found: ${input.customerId}`, "CustomerNotFound");
    }
    const entity = this.#store.entity(input.customerId, input.resourceId);
    if (!entity) throw new EmulatorError(`Customer resource not found: ${input.resourceId}`, "CustomerResourceNotFound");
    const entry = entity.entitlements.get(input.featureId);
    if (!entry) throw new EmulatorError(`Feature not found: ${input.featureId}`, "FeatureNotFound");
    if (entry.spec.featureType !== "NUMBER" || entry.spec.meterType === "None") {
      throw new EmulatorError(`Feature ${input.featureId} is not metered`, "MeteringNotAvailableForFeatureType");
    }
    return { entity, featureId: input.featureId };
  }

  #reportUsage(input: ReportUsageArgs): GraphqlObject {
    const { entity, featureId } = this.#usageTarget(input);
    const entry = entity.entitlements.get(featureId);
    if (!entry) throw new EmulatorError(`Feature not found: ${featureId}`, "FeatureNotFound");
    const behavior = input.updateBehavior ?? "DELTA";
    const now = Date.now();
    entry.currentUsage = behavior === "SET" ? input.value : entry.currentUsage + input.value;
    entry.usageUpdatedAt = now;
    const record: ReportedUsage = { customerId: input.customerId, featureId, value: input.value, updateBehavior: behavior, at: now };
    if (input.resourceId) record.resourceId = input.resourceId;
    if (input.idempotencyKey) record.idempotencyKey = input.idempotencyKey;
    if (input.createdAt) record.createdAt = String(input.createdAt);
    if (input.dimensions !== undefined && input.dimensions !== null) record.dimensions = input.dimensions;
    this.reportedUsage.push(record);
    this.#publishUsage(entity, featureId);
    const usagePeriodEnd = toIso(entry.spec.usagePeriodEnd);
    return {
      id: randomUUID(),
      featureId,
      customerId: input.customerId,
      resourceId: input.resourceId ?? null,
      currentUsage: entry.currentUsage,
      usagePeriodStart: toIso(entry.spec.usagePeriodStart),
      usagePeriodEnd,
      nextResetDate: usagePeriodEnd,
      timestamp: toIso(input.createdAt ? String(input.createdAt) : now) ?? new Date(now).toISOString(),
      credit: null,
    };
  }

  // ---- HTTP ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://emulator");
    // The raw path, not url.pathname: WHATWG URL resolves an encoded `%2E` segment as `.`, which would turn
    // a request for customer "." (sent as /v1/c/%2E/...) into another path.
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const method = req.method ?? "GET";
    if (path === "/health") {
      this.#record({ surface: "health", endpoint: "health", method, path, status: 200 }, req);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: "ok" }));
      return;
    }
    if (path === "/graphql") return this.#handleGraphql(req, res, method, path);
    if (path.startsWith("/v1/")) return this.#handleEdge(req, res, method, path, url.searchParams);
    this.#record({ surface: "edge", endpoint: "not-found", method, path, status: 404 }, req);
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "not_found", message: `No route for ${method} ${path}` }));
  }

  #authorized(req: IncomingMessage): boolean {
    const key = req.headers["x-api-key"];
    return typeof key === "string" && this.#apiKeys.has(key);
  }

  async #handleEdge(req: IncomingMessage, res: ServerResponse, method: string, path: string, query: URLSearchParams): Promise<void> {
    const route = edgeRoute(path);
    const base: Omit<RequestRecord, "status" | "at" | "headers"> = { surface: "edge", endpoint: route.endpoint, method, path };
    if (route.customerId !== undefined) base.customerId = route.customerId;
    const resourceId = query.get("resourceId");
    if (resourceId) base.resourceId = resourceId;

    if (!this.#authorized(req)) {
      this.#record({ ...base, status: 401 }, req);
      return void writeJson(res, 401, JSON.stringify({ error: "unauthorized", message: "Invalid API key" }), undefined);
    }
    if (!this.#edgeLimiter.admit(String(req.headers["x-api-key"]), Date.now())) {
      this.#record({ ...base, status: 429 }, req);
      return void writeJson(res, 429, RATE_LIMIT_BODY, undefined);
    }
    const fault = this.#faults.take("edge");
    if (fault?.latencyMs) await sleep(fault.latencyMs, this.#closing.signal);
    if (this.#closing.signal.aborted) return void res.destroy();
    if (method !== "GET" || route.endpoint === "not-found") {
      this.#record({ ...base, status: 404 }, req);
      return void writeJson(res, 404, JSON.stringify({ error: "not_found", message: `No route for ${method} ${path}` }), undefined);
    }
    if (fault?.kind === "rateLimit") {
      this.#record({ ...base, status: 429 }, req);
      return void writeJson(res, 429, RATE_LIMIT_BODY, undefined);
    }
    if (fault?.kind === "serverError") {
      const status = fault.status ?? 500;
      this.#record({ ...base, status }, req);
      return void writeJson(res, status, JSON.stringify({ error: "internal_error", message: "Internal Server Error" }), undefined);
    }

    let result: unknown;
    const variables = { query: { customerId: route.customerId ?? "", resourceId: resourceId || null } };
    if (route.endpoint === "entitlements-state") result = this.#run(this.#edgeStateDocument, variables);
    else if (route.endpoint === "entitlements") result = this.#run(this.#edgeEntitlementsDocument, variables);
    else if (route.endpoint === "sdk-configuration") {
      result = { data: { sdkConfiguration: { sentryDsn: null, isWidgetWatermarkEnabled: false, showWatermark: false } } };
    } else result = { data: { subscriptions: [] } };

    result = shapeForFault(result, fault);
    const outcome = writeJson(res, 200, JSON.stringify(result), fault);
    this.#record({ ...base, status: outcome === "dropped" ? "dropped" : 200 }, req);
  }

  async #handleGraphql(req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<void> {
    const base: Omit<RequestRecord, "status" | "at" | "headers"> = { surface: "graphql", endpoint: "anonymous", method, path };
    const headerName = req.headers["x-graphql-operation-name"];
    if (typeof headerName === "string" && headerName) base.endpoint = base.operationName = headerName;
    if (method !== "POST") {
      this.#record({ ...base, status: 405 }, req);
      return void writeJson(res, 405, JSON.stringify({ errors: [{ message: "Use POST" }] }), undefined);
    }
    let body: { query?: unknown; variables?: unknown; operationName?: unknown };
    try {
      body = JSON.parse(await readBody(req, MAX_GRAPHQL_BODY_BYTES)) as typeof body;
    } catch (error) {
      this.#record({ ...base, status: 400 }, req);
      return void writeJson(res, 400, JSON.stringify({ errors: [{ message: `Bad request: ${String(error)}` }] }), undefined);
    }
    const operationName = typeof body.operationName === "string" ? body.operationName : undefined;
    if (operationName) base.endpoint = base.operationName = operationName;
    const variables = body.variables && typeof body.variables === "object" ? (body.variables as Record<string, unknown>) : {};
    const customerId = customerIdOf(variables);
    if (customerId) base.customerId = customerId;

    if (!this.#authorized(req)) {
      this.#record({ ...base, status: 401 }, req);
      const unauthenticated = { errors: [{ message: "Unauthorized", extensions: { code: "Unauthenticated" } }], data: null };
      return void writeJson(res, 401, JSON.stringify(unauthenticated), undefined);
    }
    const fault = this.#faults.take("graphql");
    if (fault?.latencyMs) await sleep(fault.latencyMs, this.#closing.signal);
    if (this.#closing.signal.aborted) return void res.destroy();
    if (fault?.kind === "rateLimit") {
      this.#record({ ...base, status: 429 }, req);
      return void writeJson(res, 429, RATE_LIMIT_BODY, undefined);
    }
    if (fault?.kind === "serverError") {
      const status = fault.status ?? 500;
      this.#record({ ...base, status }, req);
      const errors = { errors: [{ message: "Internal Server Error", extensions: { code: "UnexpectedError" } }], data: null };
      return void writeJson(res, status, JSON.stringify(errors), undefined);
    }

    let document: DocumentNode;
    try {
      if (typeof body.query !== "string") throw new Error("Missing query");
      document = parse(body.query);
    } catch (error) {
      this.#record({ ...base, status: 400 }, req);
      const errors = { errors: [{ message: String(error instanceof Error ? error.message : error), extensions: { code: "GRAPHQL_PARSE_FAILED" } }] };
      return void writeJson(res, 400, JSON.stringify(errors), undefined);
    }
    const validationErrors = validate(stiggSchema, document);
    if (validationErrors.length > 0) {
      const name = operationName ?? getOperationAST(document, operationName)?.name?.value ?? "anonymous";
      this.#unknownOperation(name, validationErrors.map((e) => e.message));
      this.#record({ ...base, status: 400 }, req);
      const errors = {
        errors: validationErrors.map((e) => ({ ...formatError(e), extensions: { code: "GRAPHQL_VALIDATION_FAILED" } })),
      };
      return void writeJson(res, 400, JSON.stringify(errors), undefined);
    }
    const result = shapeForFault(this.#run(document, variables, operationName), fault);
    const outcome = writeJson(res, 200, JSON.stringify(result), fault);
    this.#record({ ...base, status: outcome === "dropped" ? "dropped" : 200 }, req);
  }

  #run(document: DocumentNode, variableValues: Record<string, unknown>, operationName?: string): ExecutionResult {
    const result = execute({ schema: stiggSchema, document, rootValue: this.#rootValue(), variableValues, operationName }) as ExecutionResult;
    if (!result.errors) return result;
    return { ...result, errors: result.errors.map((e) => formatError(e as GraphQLError)) } as unknown as ExecutionResult;
  }

  #unknownOperation(name: string, errors: string[]): void {
    this.unknownOperations.push(name);
    if (this.#options.onUnknownOperation) return this.#options.onUnknownOperation(name, errors);
    if (this.#warnedOperations.has(name)) return;
    this.#warnedOperations.add(name);
    console.warn(`[stigg-emulator] unsupported GraphQL operation ${name}: ${errors.join("; ")}`);
  }

  #record(record: Omit<RequestRecord, "at" | "headers">, req: IncomingMessage): void {
    const key = req.headers["x-api-key"];
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const full: RequestRecord = { ...record, headers, at: Date.now() };
    if (typeof key === "string") full.apiKey = key;
    this.requests.push(full);
  }

  #recordWs(record: WsRequestRecord): void {
    const full: RequestRecord = {
      surface: "ws",
      endpoint: record.kind,
      method: "WS",
      path: "/graphql",
      headers: record.headers ?? {},
      status: 101,
      at: record.at,
    };
    if (record.headers?.["x-api-key"]) full.apiKey = record.headers["x-api-key"];
    if (record.operationName) full.operationName = record.operationName;
    if (record.rootField) full.rootField = record.rootField;
    this.requests.push(full);
  }
}

interface ReportUsageArgs {
  customerId: string;
  featureId: string;
  value: number;
  updateBehavior?: "DELTA" | "SET" | null;
  resourceId?: string | null;
  createdAt?: unknown;
  dimensions?: unknown;
  idempotencyKey?: string | null;
}

interface ReportEventArgs {
  customerId: string;
  eventName: string;
  idempotencyKey: string;
  resourceId?: string | null;
  dimensions?: unknown;
  timestamp?: unknown;
}

/** Ids arrive percent-encoded from careful clients and raw from the 3.95 SDK; decode when it is valid. */
function decodePathId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function edgeRoute(path: string): { endpoint: string; customerId?: string } {
  if (path === "/v1/config/server-sdk-configuration.json") return { endpoint: "sdk-configuration" };
  const match = /^\/v1\/c\/(.+)\/(entitlements-state|entitlements|subscriptions)\.json$/.exec(path);
  if (!match) return { endpoint: "not-found" };
  return { endpoint: match[2] as string, customerId: decodePathId(match[1] as string) };
}

function customerIdOf(variables: Record<string, unknown>): string | undefined {
  for (const key of ["query", "input"]) {
    const inner = variables[key];
    if (inner && typeof inner === "object" && typeof (inner as { customerId?: unknown }).customerId === "string") {
      return (inner as { customerId: string }).customerId;
    }
  }
  return undefined;
}

function shapeForFault(result: unknown, fault: HttpFault | undefined): unknown {
  if (fault?.kind === "wrongTypes") return mistype(result);
  if (fault?.kind === "hugePayload") return padResult(result, fault.hugeBytes ?? DEFAULT_HUGE_BYTES);
  return result;
}

/** Grows the entitlement lists (the realistic way a Stigg body gets big), else pads `extensions`. */
function padResult(result: unknown, bytes: number): unknown {
  const copy = structuredClone(result) as { data?: Record<string, unknown>; extensions?: Record<string, unknown> };
  const data = copy.data ?? {};
  const state = data["entitlementsState"] as { entitlements?: unknown[]; entitlementsV2?: unknown[] } | undefined;
  const lists: { list: unknown[]; typename: string }[] = [];
  if (state?.entitlementsV2) lists.push({ list: state.entitlementsV2, typename: "FeatureEntitlement" });
  if (state?.entitlements) lists.push({ list: state.entitlements, typename: "Entitlement" });
  if (Array.isArray(data["entitlements"])) lists.push({ list: data["entitlements"] as unknown[], typename: "Entitlement" });
  if (lists.length === 0) {
    copy.extensions = { ...(copy.extensions ?? {}), padding: "x".repeat(bytes) };
    return copy;
  }
  const sample = syntheticEntitlement("Entitlement", 0);
  const count = Math.ceil(bytes / lists.length / JSON.stringify(sample).length);
  for (const { list, typename } of lists) {
    for (let i = 0; i < count; i++) list.push(syntheticEntitlement(typename, i));
  }
  return copy;
}

function syntheticEntitlement(typename: string, index: number): GraphqlObject {
  return {
    __typename: typename,
    isGranted: true,
    accessDeniedReason: null,
    usageLimit: null,
    hasUnlimitedUsage: false,
    hasSoftLimit: false,
    currentUsage: 0,
    enumValues: null,
    feature: {
      __typename: "EntitlementFeature",
      featureType: "BOOLEAN",
      meterType: null,
      featureUnits: null,
      featureUnitsPlural: null,
      description: null,
      displayName: `Huge feature ${index}`,
      refId: `huge-feature-${index}`,
      unitTransformation: null,
    },
  };
}

function readBody(req: IncomingMessage, limitBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        reject(new Error(`body larger than ${limitBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
