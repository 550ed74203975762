// Stigg's GraphQL API over HTTP (reference e.2): POST {API_URL}/graphql. Used for reads when Edge is
// disabled, for ReloadEntitlements (which must bypass Edge's cache), for the write path and for the
// start-up key check when Edge is disabled.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { UpstreamError, type UsageAck, type UsageEventInput, type UsageReportInput } from "../../read/readTypes.ts";
import { sdkHeaders } from "./edgeClient.ts";
import {
  EntitlementsStateShapeError,
  parseEntitlementsStateDocument,
  type ParsedEntitlementsState,
} from "./entitlementsState.ts";

export const DEFAULT_API_URL = "https://api.stigg.io";
/** Reads sit on a request's hot path, like Edge reads. */
export const DEFAULT_GRAPHQL_READ_TIMEOUT_MS = 1_500;
/** Writes are not on the gate's hot path; Stigg's own 60 s is longer than any caller waits. */
export const DEFAULT_GRAPHQL_WRITE_TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** An UpstreamError with what the GraphQL API said, for logs and tests. */
export class StiggGraphqlError extends UpstreamError {
  constructor(
    message: string,
    kind: UpstreamError["kind"],
    readonly details: { status?: number; code?: string; attempts: number },
  ) {
    super(message, kind);
  }
}

export interface GraphqlClientOptions {
  apiKey: string;
  /** API_URL; GraphQL lives at `{apiUrl}/graphql`. */
  apiUrl?: string;
  readTimeoutMs?: number;
  writeTimeoutMs?: number;
  /** Attempts for reads (network errors and 5xx). Writes are sent once unless nothing reached Stigg. */
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  source?: string;
  instanceId?: string;
}

export interface GraphqlCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

type Json = Record<string, unknown>;

const ENTITLEMENTS_STATE_QUERY = /* GraphQL */ `
  query GetEntitlementsState($query: FetchEntitlementsQuery!) {
    entitlementsState(query: $query) {
      __typename
      accessDeniedReason
      entitlementsV2 {
        __typename
        ... on FeatureEntitlement {
          isGranted accessDeniedReason usageLimit hasUnlimitedUsage hasSoftLimit currentUsage enumValues
          usagePeriodAnchor usagePeriodStart usagePeriodEnd resetPeriod validUntil
          feature { refId featureType meterType }
        }
        ... on CreditEntitlement {
          isGranted accessDeniedReason usageLimit currentUsage hasSoftLimit usagePeriodEnd validUntil
          currency { currencyId }
        }
      }
    }
  }
`;

const USAGE_FIELDS = "id featureId customerId resourceId currentUsage usagePeriodStart usagePeriodEnd nextResetDate timestamp";

const REPORT_USAGE_MUTATION = /* GraphQL */ `
  mutation ReportUsage($input: ReportUsageInput!) { reportUsage(input: $input) { ${USAGE_FIELDS} } }
`;
const REPORT_USAGE_BULK_MUTATION = /* GraphQL */ `
  mutation ReportUsageBulk($input: ReportUsageBulkInput!) { reportUsageBulk(input: $input) { ${USAGE_FIELDS} } }
`;
const REPORT_EVENT_MUTATION = /* GraphQL */ `
  mutation ReportEvent($input: UsageEventsReportInput!) { reportEvent(events: $input) }
`;
const SDK_CONFIGURATION_QUERY = /* GraphQL */ `
  query GetSdkConfiguration { sdkConfiguration { sentryDsn isWidgetWatermarkEnabled showWatermark } }
`;

export class GraphqlClient {
  readonly endpoint: string;
  private readonly headers: Record<string, string>;
  private readonly readTimeoutMs: number;
  private readonly writeTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly closing = new AbortController();

  constructor(options: GraphqlClientOptions) {
    const base = new URL(options.apiUrl ?? DEFAULT_API_URL);
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new RangeError(`apiUrl must be http(s): ${base.href}`);
    this.endpoint = `${base.origin}${base.pathname.replace(/\/+$/, "")}/graphql`;
    this.headers = {
      ...sdkHeaders(options.apiKey, options.source ?? "NODE_SERVER_SDK", options.instanceId ?? randomUUID()),
      "content-type": "application/json",
      "cache-control": "no-cache",
    };
    this.readTimeoutMs = options.readTimeoutMs ?? DEFAULT_GRAPHQL_READ_TIMEOUT_MS;
    this.writeTimeoutMs = options.writeTimeoutMs ?? DEFAULT_GRAPHQL_WRITE_TIMEOUT_MS;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.backoffBaseMs = options.backoffBaseMs ?? 50;
    this.backoffMaxMs = options.backoffMaxMs ?? 400;
  }

  /** Aborts calls in progress. */
  close(): void {
    this.closing.abort(new UpstreamError("GraphQL client closed", "unavailable"));
  }

  async getEntitlementsState(customerId: string, resourceId: string | undefined, options: GraphqlCallOptions = {}): Promise<ParsedEntitlementsState> {
    const query: Json = { customerId };
    if (resourceId !== undefined) query["resourceId"] = resourceId;
    const body = await this.call("GetEntitlementsState", ENTITLEMENTS_STATE_QUERY, { query }, "read", options);
    try {
      return parseEntitlementsStateDocument(body, customerId, resourceId);
    } catch (error) {
      if (error instanceof EntitlementsStateShapeError) {
        throw new StiggGraphqlError(`GetEntitlementsState body rejected: ${error.message}`, "internal", { attempts: 1 });
      }
      throw error;
    }
  }

  async reportUsage(usage: UsageReportInput, options: GraphqlCallOptions = {}): Promise<UsageAck> {
    const body = await this.call("ReportUsage", REPORT_USAGE_MUTATION, { input: usageInput(usage) }, "write", options);
    return usageAck(dataField(body, "reportUsage"), "$.data.reportUsage");
  }

  async reportUsageBulk(usages: readonly UsageReportInput[], options: GraphqlCallOptions = {}): Promise<UsageAck[]> {
    if (usages.length === 0) return [];
    const input = { usages: usages.map(usageInput) };
    const body = await this.call("ReportUsageBulk", REPORT_USAGE_BULK_MUTATION, { input }, "write", options);
    const list = dataField(body, "reportUsageBulk");
    if (!Array.isArray(list)) throw shapeError("$.data.reportUsageBulk: must be an array");
    return list.map((item: unknown, i) => usageAck(item, `$.data.reportUsageBulk[${i}]`));
  }

  async reportEvents(events: readonly UsageEventInput[], options: GraphqlCallOptions = {}): Promise<void> {
    if (events.length === 0) return;
    const usageEvents = events.map((event) => {
      const out: Json = { customerId: event.customerId, eventName: event.eventName, idempotencyKey: event.idempotencyKey };
      if (event.resourceId) out["resourceId"] = event.resourceId;
      if (event.dimensions) out["dimensions"] = event.dimensions;
      if (event.timestamp !== undefined) out["timestamp"] = new Date(event.timestamp).toISOString();
      return out;
    });
    await this.call("ReportEvent", REPORT_EVENT_MUTATION, { input: { usageEvents } }, "write", options);
  }

  /** The key check the SDK does at start when Edge is disabled. */
  async sdkConfiguration(options: GraphqlCallOptions = {}): Promise<void> {
    await this.call("GetSdkConfiguration", SDK_CONFIGURATION_QUERY, {}, "read", options);
  }

  /** One operation; resolves with the whole parsed body (`data` present, `errors` empty). */
  private async call(operationName: string, query: string, variables: Json, kind: "read" | "write", options: GraphqlCallOptions): Promise<Json> {
    const timeoutMs = options.timeoutMs ?? (kind === "read" ? this.readTimeoutMs : this.writeTimeoutMs);
    const deadline = performance.now() + timeoutMs;
    const signals = [this.closing.signal, AbortSignal.timeout(Math.max(1, timeoutMs))];
    if (options.signal) signals.push(options.signal);
    const signal = AbortSignal.any(signals);
    const payload = JSON.stringify({ operationName, query, variables });
    let attempts = 0;
    for (;;) {
      attempts += 1;
      try {
        return await this.attempt(operationName, payload, signal, attempts);
      } catch (error) {
        const failure = this.classify(error, signal, timeoutMs, attempts, operationName);
        const retry = kind === "read" ? failure.retryable : failure.neverSent;
        if (!retry || attempts >= this.maxAttempts) throw failure.error;
        const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempts - 1));
        const wait = Math.random() * ceiling;
        if (performance.now() + wait >= deadline) throw failure.error;
        try {
          await sleep(wait, undefined, { signal });
        } catch {
          throw this.classify(signal.reason, signal, timeoutMs, attempts, operationName).error;
        }
      }
    }
  }

  private async attempt(operationName: string, payload: string, signal: AbortSignal, attempts: number): Promise<Json> {
    const response = await fetch(this.endpoint, {
      method: "POST",
      headers: { ...this.headers, "x-graphql-operation-name": operationName },
      body: payload,
      signal,
    });
    const text = await readCapped(response);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const errors = isObject(body) && Array.isArray(body["errors"]) ? (body["errors"] as unknown[]) : [];
    const code = errors.map(errorCode).find((c) => c !== undefined);
    const messages = errors.map((e) => (isObject(e) && typeof e["message"] === "string" ? e["message"] : JSON.stringify(e)));
    const status = response.status;
    const where = `${operationName}: Stigg GraphQL`;
    if (status === 401 || status === 403 || code === "Unauthenticated" || code === "UNAUTHENTICATED") {
      throw new StiggGraphqlError(`${where} refused the API key (${status}${code ? ` ${code}` : ""})`, "unauthenticated", { status, code: code ?? "Unauthenticated", attempts });
    }
    if (status === 429) throw new StiggGraphqlError(`${where} answered 429 (rate limit)`, "unavailable", { status, attempts });
    if (status >= 500) throw new StiggGraphqlError(`${where} answered ${status}`, "unavailable", { status, attempts });
    if (errors.length > 0) {
      throw new StiggGraphqlError(`${where} rejected the operation: ${messages.join("; ")}`, "rejected", withCode({ status, attempts }, code));
    }
    if (status < 200 || status > 299) throw new StiggGraphqlError(`${where} answered ${status}`, "rejected", { status, attempts });
    if (!isObject(body) || !isObject(body["data"])) {
      throw new StiggGraphqlError(`${where} answered a body without data`, "internal", { status, attempts });
    }
    return body;
  }

  private classify(
    error: unknown,
    signal: AbortSignal,
    timeoutMs: number,
    attempts: number,
    operationName: string,
  ): { error: UpstreamError; retryable: boolean; neverSent: boolean } {
    if (error instanceof StiggGraphqlError) {
      return { error, retryable: error.kind === "unavailable" && error.details.status !== 429, neverSent: false };
    }
    if (error instanceof UpstreamError) return { error, retryable: false, neverSent: false };
    if (signal.aborted) {
      const reason: unknown = signal.reason;
      if (reason instanceof UpstreamError) return { error: reason, retryable: false, neverSent: false };
      const timedOut = reason instanceof DOMException && reason.name === "TimeoutError";
      const message = timedOut ? `${operationName}: no answer from Stigg GraphQL within ${timeoutMs} ms` : `${operationName}: aborted by the caller`;
      return { error: new StiggGraphqlError(message, timedOut ? "timeout" : "unavailable", { attempts }), retryable: false, neverSent: false };
    }
    const code = networkCode(error);
    const message = `${operationName}: Stigg GraphQL unreachable (${code ?? describe(error)})`;
    // A refused connection carried no request, so even a non-idempotent write may be sent again.
    return { error: new StiggGraphqlError(message, "unavailable", { attempts }), retryable: true, neverSent: code === "ECONNREFUSED" };
  }
}

function withCode(details: { status: number; attempts: number }, code: string | undefined): { status: number; attempts: number; code?: string } {
  return code === undefined ? details : { ...details, code };
}

async function readCapped(response: Response): Promise<string> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
    await response.body?.cancel();
    throw new StiggGraphqlError(`Stigg GraphQL body of ${declared} bytes is too large`, "internal", { status: response.status, attempts: 1 });
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) throw new StiggGraphqlError("Stigg GraphQL body is too large", "internal", { status: response.status, attempts: 1 });
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks).toString("utf8");
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorCode(error: unknown): string | undefined {
  if (!isObject(error) || !isObject(error["extensions"])) return undefined;
  const code = error["extensions"]["code"];
  return typeof code === "string" ? code : undefined;
}

function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("E")) return code;
    current = current.cause;
  }
  return undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function shapeError(message: string): StiggGraphqlError {
  return new StiggGraphqlError(`Stigg GraphQL answered an unexpected shape: ${message}`, "internal", { attempts: 1 });
}

function dataField(body: Json, field: string): unknown {
  const data = body["data"] as Json;
  return data[field];
}

function usageInput(usage: UsageReportInput): Json {
  const input: Json = { customerId: usage.customerId, featureId: usage.featureId, value: usage.value };
  if (usage.resourceId) input["resourceId"] = usage.resourceId;
  if (usage.updateBehavior) input["updateBehavior"] = usage.updateBehavior;
  if (usage.timestamp !== undefined) input["createdAt"] = new Date(usage.timestamp).toISOString();
  if (usage.dimensions) input["dimensions"] = usage.dimensions;
  return input;
}

function optionalDate(obj: Json, key: string, path: string): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === "number" ? value : typeof value === "string" ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw shapeError(`${path}.${key}: not a date`);
  return ms;
}

function usageAck(item: unknown, path: string): UsageAck {
  if (!isObject(item)) throw shapeError(`${path}: must be an object`);
  const { id, customerId, featureId, resourceId, currentUsage } = item;
  if (typeof id !== "string" || typeof customerId !== "string" || typeof featureId !== "string") {
    throw shapeError(`${path}: id, customerId and featureId must be strings`);
  }
  const ack: UsageAck = { measurementId: id, customerId, featureId };
  if (typeof resourceId === "string" && resourceId !== "") ack.resourceId = resourceId;
  if (typeof currentUsage === "number" && Number.isFinite(currentUsage)) ack.currentUsage = currentUsage;
  const start = optionalDate(item, "usagePeriodStart", path);
  if (start !== undefined) ack.usagePeriodStart = start;
  const end = optionalDate(item, "usagePeriodEnd", path);
  if (end !== undefined) ack.usagePeriodEnd = end;
  return ack;
}
