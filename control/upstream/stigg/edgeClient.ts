// Reads one customer's entitlements from Stigg's Edge API (reference e.1):
// GET {edgeApiUrl}/v1/c/{customerId}/entitlements-state.json[?resourceId=...].
import http from "node:http";
import https from "node:https";
import { createHash, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { CustomerEntitlements } from "../../model/entitlements.ts";
import { TokenBucket } from "../../concurrency/tokenBucket.ts";
import {
  EntitlementsStateGraphqlError,
  EntitlementsStateShapeError,
  parseEntitlementsStateDocument,
} from "./entitlementsState.ts";

export const DEFAULT_EDGE_API_URL = "https://edge.api.stigg.io";

/**
 * 1,500 ms for the whole fetch, retries included. Stigg's SDK waits 10 s, but this call sits on a
 * request's hot path (a cache miss the filter is holding a request for): Edge answers in ~100 ms at
 * p95, so 1.5 s leaves room for a retry or two, and beyond that the fallback is the better answer.
 */
export const DEFAULT_EDGE_TIMEOUT_MS = 1_500;
/** Stigg's documented Edge limit per API key, shared by every reader of that key. */
export const DEFAULT_EDGE_REQUESTS_PER_MINUTE = 6_000;
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

export type EdgeErrorKind =
  /** Bad input to the client (empty id, an id that is not valid UTF-16); no request was made. */
  | "invalid-argument"
  /** The time budget ran out. */
  | "timeout"
  /** Connection refused/reset, or the socket closed mid-body. */
  | "network"
  /** A 5xx, or a 4xx other than 401/403/429. */
  | "http"
  /** Edge answered 429, or we are still backing off from one. */
  | "rate-limited"
  /** The local request budget (requests/min) has no token within the time budget. */
  | "budget-exhausted"
  /** 401/403 or a GraphQL Unauthenticated error: the API key is wrong. */
  | "unauthorized"
  | "body-too-large"
  /** Not JSON, or JSON not shaped like an EntitlementsState. */
  | "malformed-body"
  /** A GraphQL error envelope. */
  | "graphql"
  /** The caller's signal, or the client was closed. */
  | "aborted";

export class EdgeClientError extends Error {
  override readonly name = "EdgeClientError";
  constructor(
    readonly kind: EdgeErrorKind,
    message: string,
    readonly details: { status?: number; attempts?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get status(): number | undefined {
    return this.details.status;
  }

  /** How many HTTP requests were sent for the failed fetch. */
  get attempts(): number {
    return this.details.attempts ?? 0;
  }
}

export interface EdgeClientOptions {
  /** Stigg server API key (SERVER_API_KEY). */
  apiKey: string;
  /** EDGE_API_URL; a path prefix is kept. Default https://edge.api.stigg.io. */
  edgeApiUrl?: string;
  /** Budget for one fetch including retries and waits for the request budget. Default 1,500 ms. */
  timeoutMs?: number;
  /** Attempts per fetch (first try included). Default 3. */
  maxAttempts?: number;
  /** Full-jitter backoff: the n-th retry waits random(0, min(backoffMaxMs, backoffBaseMs·2^(n−1))). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Client-side request budget for this API key. Default 6,000/min, Stigg's Edge limit. */
  requestsPerMinute?: number;
  /** Burst size of the request budget. Default one second's worth (100). */
  burst?: number;
  /** First pause after a 429 (doubles per consecutive 429, up to rateLimitMaxCooldownMs). Default 1,000 ms. */
  rateLimitCooldownMs?: number;
  rateLimitMaxCooldownMs?: number;
  maxBodyBytes?: number;
  /** `source` header. Default NODE_SERVER_SDK, what Stigg's Sidecar (built on its Node SDK) sends. */
  source?: string;
  /** X-SDK-INSTANCE-ID. Default a random UUID per client. */
  instanceId?: string;
  /** Keep-alive sockets per origin. Default 32. */
  maxSockets?: number;
  /** Injectable for tests: uniform random in [0, 1). */
  random?: () => number;
}

export interface FetchOptions {
  signal?: AbortSignal;
}

export interface EdgeClientStats {
  /** HTTP requests sent. */
  requests: number;
  /** Requests sent as retries. */
  retries: number;
  /** Successful fetches. */
  fetched: number;
  /** Failed fetches (any kind). */
  failed: number;
  /** 429 answers received. */
  rateLimited: number;
  /** Fetches refused without a request while backing off from a 429. */
  rateLimitCooldownRefusals: number;
  /** Fetches refused because the local request budget had no token in time. */
  budgetRefusals: number;
  /** Values a newer Stigg sent that this version does not know (see ParsedEntitlementsState.notes). */
  unknownValues: number;
  /** Credit entitlements received and left out. */
  skippedCredits: number;
}

export interface EdgeFetchResult {
  entitlements: CustomerEntitlements;
  /** HTTP requests this fetch needed (1 without retries). */
  attempts: number;
  /** Unknown values that were tolerated, for one log line. */
  notes: string[];
  /** Epoch ms after which the entry must be re-fetched (earliest entitlement `validUntil`). */
  validUntil?: number;
}

const PROCESS_TIMESTAMP = Date.now();

/** The identification headers Stigg's Node SDK sends on every Edge, GraphQL and WebSocket call. */
export function sdkHeaders(apiKey: string, source: string, instanceId: string): Record<string, string> {
  const host = headerSafe(hostname());
  const pid = String(process.pid);
  const timestamp = String(PROCESS_TIMESTAMP);
  return {
    "X-API-KEY": apiKey,
    "X-API-VERSION": "1",
    source: headerSafe(source),
    "X-SDK-INSTANCE-ID": headerSafe(instanceId),
    "X-SDK-OS-PROCESS-HOSTNAME": host,
    "X-SDK-OS-PROCESS-ID": pid,
    "X-SDK-OS-PROCESS-TIMESTAMP": timestamp,
    // Same recipe as Stigg's SDK (md5 of hostname + pid + start time): identifies a process, not a secret.
    "X-SDK-OS-PROCESS-FINGERPRINT": createHash("md5").update(host + pid + timestamp).digest("hex"),
    accept: "application/json",
  };
}

/**
 * One path segment. Ids are percent-encoded (Stigg's SDK inserts them raw, which breaks on `/`, `?`,
 * `#` and spaces); `.` and `..` are encoded too so no URL normaliser on the way can treat them as
 * dot segments.
 */
export function encodePathSegment(id: string): string {
  const encoded = encodeURIComponent(id);
  return id === "." || id === ".." ? encoded.replaceAll(".", "%2E") : encoded;
}

interface AttemptResult {
  status: number;
  body: Buffer;
}

function isWellFormed(value: string): boolean {
  try {
    encodeURIComponent(value);
    return true;
  } catch {
    return false;
  }
}

export class EdgeClient {
  private readonly base: URL;
  private readonly headers: Record<string, string>;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly bucket: TokenBucket;
  /** One controller per fetch in progress, so close() can stop them without a listener per fetch. */
  private readonly inFlight = new Set<AbortController>();
  private isClosed = false;
  private cooldownUntilMs = 0;
  private consecutiveRateLimits = 0;
  private readonly counters: EdgeClientStats = {
    requests: 0,
    retries: 0,
    fetched: 0,
    failed: 0,
    rateLimited: 0,
    rateLimitCooldownRefusals: 0,
    budgetRefusals: 0,
    unknownValues: 0,
    skippedCredits: 0,
  };

  readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly rateLimitCooldownMs: number;
  private readonly rateLimitMaxCooldownMs: number;
  private readonly maxBodyBytes: number;
  private readonly random: () => number;

  /** Throws EdgeClientError("invalid-argument") for unusable options. */
  constructor(options: EdgeClientOptions) {
    if (!HEADER_VALUE.test(options.apiKey)) {
      throw new EdgeClientError("invalid-argument", "apiKey must be a non-empty header-safe string");
    }
    this.base = parseBaseUrl(options.edgeApiUrl ?? DEFAULT_EDGE_API_URL);
    this.timeoutMs = positive("timeoutMs", options.timeoutMs ?? DEFAULT_EDGE_TIMEOUT_MS);
    positive("requestsPerMinute", options.requestsPerMinute ?? DEFAULT_EDGE_REQUESTS_PER_MINUTE);
    positive("maxBodyBytes", options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    if (options.burst !== undefined && !(options.burst >= 1)) {
      throw new EdgeClientError("invalid-argument", "burst must be >= 1");
    }
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.backoffBaseMs = options.backoffBaseMs ?? 50;
    this.backoffMaxMs = options.backoffMaxMs ?? 400;
    this.rateLimitCooldownMs = options.rateLimitCooldownMs ?? 1_000;
    this.rateLimitMaxCooldownMs = options.rateLimitMaxCooldownMs ?? 60_000;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.random = options.random ?? Math.random;
    const requestsPerMinute = options.requestsPerMinute ?? DEFAULT_EDGE_REQUESTS_PER_MINUTE;
    this.bucket = new TokenBucket(requestsPerMinute, options.burst ?? Math.max(1, requestsPerMinute / 60));
    this.headers = sdkHeaders(options.apiKey, options.source ?? "NODE_SERVER_SDK", options.instanceId ?? randomUUID());
    this.transport = this.base.protocol === "https:" ? https : http;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 32 };
    this.agent = this.base.protocol === "https:" ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  stats(): Readonly<EdgeClientStats> {
    return { ...this.counters };
  }

  /**
   * The request path (and query) for this customer and resource. Built as a string, not through
   * WHATWG URL, which would resolve an encoded `%2E%2E` id as a dot segment.
   */
  entitlementsStatePath(customerId: string, resourceId?: string): string {
    const prefix = this.base.pathname.replace(/\/+$/, "");
    const query = resourceId === undefined ? "" : `?resourceId=${encodeURIComponent(resourceId)}`;
    return `${prefix}/v1/c/${encodePathSegment(customerId)}/entitlements-state.json${query}`;
  }

  /**
   * Fetches and validates one customer's (or customer + resource's) entitlements. Resolves with
   * complete data or rejects with an EdgeClientError, within `timeoutMs`.
   */
  async fetchEntitlements(customerId: string, resourceId?: string, options: FetchOptions = {}): Promise<EdgeFetchResult> {
    try {
      const result = await this.fetchOnce(customerId, resourceId, options);
      this.counters.fetched += 1;
      return result;
    } catch (error) {
      this.counters.failed += 1;
      throw error;
    }
  }

  /** Stops keep-alive sockets and aborts fetches in progress. */
  close(): void {
    this.isClosed = true;
    const reason = closedError();
    for (const controller of this.inFlight) controller.abort(reason);
    this.inFlight.clear();
    this.agent.destroy();
  }

  private async fetchOnce(customerId: string, resourceId: string | undefined, options: FetchOptions): Promise<EdgeFetchResult> {
    if (customerId === "") throw new EdgeClientError("invalid-argument", "customerId must not be empty");
    if (resourceId === "") throw new EdgeClientError("invalid-argument", "resourceId must not be empty when given");
    if (!isWellFormed(customerId) || (resourceId !== undefined && !isWellFormed(resourceId))) {
      throw new EdgeClientError("invalid-argument", "ids must be well-formed Unicode (no lone surrogates)");
    }
    const path = this.entitlementsStatePath(customerId, resourceId);
    if (this.isClosed) throw closedError();
    const controller = new AbortController();
    const caller = options.signal;
    const forward = (): void => controller.abort(caller?.reason);
    if (caller?.aborted) forward();
    caller?.addEventListener("abort", forward, { once: true });
    this.inFlight.add(controller);
    try {
      return await this.attempts(path, customerId, resourceId, controller.signal);
    } finally {
      this.inFlight.delete(controller);
      caller?.removeEventListener("abort", forward);
    }
  }

  private async attempts(
    path: string,
    customerId: string,
    resourceId: string | undefined,
    signal: AbortSignal,
  ): Promise<EdgeFetchResult> {
    const deadline = performance.now() + this.timeoutMs;
    for (let attempt = 1; ; attempt += 1) {
      this.checkAborted(signal, attempt - 1);
      await this.takeBudget(deadline, signal, attempt - 1);
      this.counters.requests += 1;
      if (attempt > 1) this.counters.retries += 1;
      try {
        const response = await this.request(path, deadline, signal);
        return this.interpret(response, customerId, resourceId, attempt);
      } catch (caught) {
        const error = this.normalise(caught, attempt, signal);
        if (!isRetryable(error) || attempt >= this.maxAttempts) throw error;
        const delayMs = this.random() * Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1));
        if (performance.now() + delayMs >= deadline) throw error;
        await this.pause(delayMs, signal, attempt);
        // A busy event loop can wake us past the deadline: that is the time budget running out with this
        // error, not the request budget (takeBudget would find no time left and say so).
        if (performance.now() >= deadline) throw error;
      }
    }
  }

  private checkAborted(signal: AbortSignal, attempts: number): void {
    if (signal.aborted) throw this.abortError(signal, attempts);
  }

  private abortError(signal: AbortSignal, attempts: number): EdgeClientError {
    if (signal.reason instanceof EdgeClientError) return signal.reason;
    return new EdgeClientError("aborted", "fetch aborted by the caller", { attempts, cause: signal.reason });
  }

  private async pause(delayMs: number, signal: AbortSignal, attempts: number): Promise<void> {
    try {
      await sleep(delayMs, undefined, { signal });
    } catch {
      throw this.abortError(signal, attempts);
    }
  }

  /** 429 cooldown first (no request at all while it lasts), then a token from the request budget. */
  private async takeBudget(deadline: number, signal: AbortSignal, attempts: number): Promise<void> {
    const now = performance.now();
    if (now < this.cooldownUntilMs) {
      this.counters.rateLimitCooldownRefusals += 1;
      throw new EdgeClientError(
        "rate-limited",
        `backing off after Edge answered 429 (${Math.ceil(this.cooldownUntilMs - now)} ms left)`,
        { status: 429, attempts },
      );
    }
    const waitMs = this.bucket.reserve(deadline - now);
    if (waitMs === undefined) {
      this.counters.budgetRefusals += 1;
      throw new EdgeClientError("budget-exhausted", "request budget for this API key is exhausted", { attempts });
    }
    if (waitMs > 0) await this.pause(waitMs, signal, attempts);
  }

  private interpret(response: AttemptResult, customerId: string, resourceId: string | undefined, attempts: number): EdgeFetchResult {
    const { status } = response;
    if (status === 429) {
      this.onRateLimited();
      throw new EdgeClientError("rate-limited", "Edge answered 429 (rate limit)", { status, attempts });
    }
    if (status === 401 || status === 403) {
      throw new EdgeClientError("unauthorized", `Edge answered ${status}: the API key was refused`, { status, attempts });
    }
    if (status < 200 || status > 299) {
      throw new EdgeClientError("http", `Edge answered ${status}`, { status, attempts });
    }
    this.consecutiveRateLimits = 0;

    let document: unknown;
    try {
      document = JSON.parse(response.body.toString("utf8"));
    } catch (cause) {
      throw new EdgeClientError("malformed-body", "Edge body is not valid JSON", { status, attempts, cause });
    }
    try {
      const parsed = parseEntitlementsStateDocument(document, customerId, resourceId);
      this.counters.unknownValues += parsed.notes.length;
      this.counters.skippedCredits += parsed.skippedCredits;
      const result: EdgeFetchResult = { entitlements: parsed.entitlements, attempts, notes: parsed.notes };
      if (parsed.validUntil !== undefined) result.validUntil = parsed.validUntil;
      return result;
    } catch (cause) {
      if (cause instanceof EntitlementsStateGraphqlError) {
        const kind = cause.unauthenticated ? "unauthorized" : "graphql";
        throw new EdgeClientError(kind, cause.message, { status, attempts, cause });
      }
      if (cause instanceof EntitlementsStateShapeError) {
        throw new EdgeClientError("malformed-body", `Edge body rejected: ${cause.message}`, { status, attempts, cause });
      }
      throw new EdgeClientError("malformed-body", "Edge body rejected", { status, attempts, cause });
    }
  }

  private onRateLimited(): void {
    this.counters.rateLimited += 1;
    const cooldown = Math.min(this.rateLimitMaxCooldownMs, this.rateLimitCooldownMs * 2 ** this.consecutiveRateLimits);
    this.consecutiveRateLimits += 1;
    this.cooldownUntilMs = Math.max(this.cooldownUntilMs, performance.now() + cooldown);
    // After the pause, resume at the steady rate instead of spending a full burst at once.
    this.bucket.drain();
  }

  private normalise(caught: unknown, attempts: number, signal: AbortSignal): EdgeClientError {
    if (signal.aborted) return this.abortError(signal, attempts);
    if (caught instanceof EdgeClientError) {
      return caught.details.attempts === attempts
        ? caught
        : new EdgeClientError(caught.kind, caught.message, { ...caught.details, attempts });
    }
    return new EdgeClientError("network", `Edge request failed: ${describe(caught)}`, { attempts, cause: caught });
  }

  /** One HTTP exchange, bounded by the deadline and the body cap. */
  private request(path: string, deadline: number, signal: AbortSignal): Promise<AttemptResult> {
    return new Promise<AttemptResult>((resolve, reject) => {
      let settled = false;
      const finish = (error: EdgeClientError | Error | undefined, result?: AttemptResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (error !== undefined) reject(error);
        else if (result !== undefined) resolve(result);
      };
      const req = this.transport.request({
        protocol: this.base.protocol,
        // URL keeps IPv6 literals bracketed; the request options want the bare address.
        hostname: this.base.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: this.base.port === "" ? undefined : Number(this.base.port),
        path,
        method: "GET",
        agent: this.agent,
        headers: this.headers,
      });
      const timer = setTimeout(() => {
        const error = new EdgeClientError("timeout", `no complete Edge answer within ${this.timeoutMs} ms`);
        finish(error);
        req.destroy(error);
      }, Math.max(0, deadline - performance.now()));
      const onAbort = (): void => {
        const error = new EdgeClientError("aborted", "fetch aborted");
        finish(error);
        req.destroy(error);
      };
      signal.addEventListener("abort", onAbort, { once: true });

      req.on("error", (error) => finish(error));
      req.on("response", (res) => {
        const status = res.statusCode ?? 0;
        const declared = Number(res.headers["content-length"]);
        // Bodies of non-2xx answers are small or irrelevant; read them only to keep the socket reusable.
        const cap = status >= 200 && status <= 299 ? this.maxBodyBytes : 64 * 1024;
        if (Number.isFinite(declared) && declared > cap) {
          const error = new EdgeClientError("body-too-large", `Edge body of ${declared} bytes exceeds ${cap}`, { status });
          finish(error);
          req.destroy(error);
          return;
        }
        const chunks: Buffer[] = [];
        let received = 0;
        res.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received > cap) {
            const error = new EdgeClientError("body-too-large", `Edge body exceeds ${cap} bytes`, { status });
            finish(error);
            req.destroy(error);
            return;
          }
          chunks.push(chunk);
        });
        res.on("error", (error) => finish(error));
        res.on("end", () => {
          if (res.complete) finish(undefined, { status, body: Buffer.concat(chunks, received) });
        });
        // A socket closed before the declared length arrived: retryable like any network error.
        res.on("close", () => {
          if (!res.complete) finish(new Error("Edge closed the connection mid-body"));
        });
      });
      req.end();
    });
  }
}

/** Visible ASCII and spaces: anything else makes node:http throw when the request is built. */
const HEADER_VALUE = /^[\x20-\x7e]+$/;

function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, "?");
}

function parseBaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new EdgeClientError("invalid-argument", `edgeApiUrl is not a URL: ${raw}`, { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new EdgeClientError("invalid-argument", `edgeApiUrl must be http(s): ${url.href}`);
  }
  if (url.search !== "" || url.hash !== "") {
    throw new EdgeClientError("invalid-argument", `edgeApiUrl must not carry a query or fragment: ${url.href}`);
  }
  return url;
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new EdgeClientError("invalid-argument", `${name} must be a positive number`);
  }
  return value;
}

function closedError(): EdgeClientError {
  return new EdgeClientError("aborted", "Edge client closed");
}

function isRetryable(error: EdgeClientError): boolean {
  if (error.kind === "network") return true;
  return error.kind === "http" && error.status !== undefined && error.status >= 500;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined ? error.message : `${code} ${error.message}`;
  }
  return String(error);
}
