// Fault injection for the emulator's three surfaces. Faults are plain data set at run time; an HTTP
// fault can be limited to the next N requests so a test can say "fail twice, then recover".
import type { ServerResponse } from "node:http";

export type Surface = "edge" | "graphql" | "ws";

export type HttpFaultKind =
  /** 429 with Stigg's Edge body and no Retry-After. */
  | "rateLimit"
  /** A 5xx (status, default 500). */
  | "serverError"
  /** 200 with a valid Content-Length but a truncated JSON body. */
  | "malformedJson"
  /** 200 with the right structure but numbers and booleans turned into strings. */
  | "wrongTypes"
  /** 200 with a valid but very large body (hugeBytes, default 8 MiB). */
  | "hugePayload"
  /** Headers and half the body, then the TCP socket is destroyed. */
  | "dropSocket";

export interface HttpFault {
  /** Delay before answering, in milliseconds. Applies with or without a kind. */
  latencyMs?: number;
  kind?: HttpFaultKind;
  /** Status for serverError (default 500). */
  status?: number;
  /** Approximate body size for hugePayload (default 8 MiB). */
  hugeBytes?: number;
  /** Apply to the next N requests of the surface only, then clear. Default: until cleared. */
  times?: number;
}

export interface WsFault {
  /** Delay before every message the server sends, in milliseconds. */
  latencyMs?: number;
  /** Stop sending anything (acks, pongs, events, ws-level pongs) while keeping sockets open. */
  silent?: boolean;
  /** Answer new WebSocket upgrades with HTTP 503 and close. */
  refuseConnections?: boolean;
  /**
   * Answer new subscriptions with a graphql-transport-ws `error` carrying this message instead of
   * registering them (e.g. "ThrottlerException: Too Many Requests", which Stigg's SDK logs at info).
   */
  subscribeError?: string;
}

export const RATE_LIMIT_BODY = JSON.stringify({ error: "rate_limit_exceeded", message: "Too many requests" });

export class FaultPlan {
  #edge: HttpFault | undefined;
  #graphql: HttpFault | undefined;
  ws: WsFault = {};

  set(surface: "edge" | "graphql", fault: HttpFault | undefined): void {
    const copy = fault ? { ...fault } : undefined;
    if (surface === "edge") this.#edge = copy;
    else this.#graphql = copy;
  }

  clear(): void {
    this.#edge = undefined;
    this.#graphql = undefined;
    this.ws = {};
  }

  /** The fault for one request of a surface, counting it against `times`. */
  take(surface: "edge" | "graphql"): HttpFault | undefined {
    const fault = surface === "edge" ? this.#edge : this.#graphql;
    if (!fault) return undefined;
    if (fault.times !== undefined) {
      fault.times -= 1;
      if (fault.times <= 0) this.set(surface, undefined);
    }
    return fault;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (the emulator is closing). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Numbers and booleans become strings, everything else keeps its place: a schema-shaped lie. */
export function mistype(value: unknown): unknown {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map(mistype);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = key === "__typename" ? inner : mistype(inner);
    return out;
  }
  return value;
}

/**
 * Writes a JSON answer honouring the body-shaping faults (malformed, dropped). Status and the
 * rate-limit/5xx faults are decided by the caller before this.
 */
export function writeJson(res: ServerResponse, status: number, body: string, fault: HttpFault | undefined): "sent" | "dropped" {
  if (fault?.kind === "malformedJson") {
    const truncated = body.slice(0, Math.max(1, Math.floor(body.length / 2)));
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(truncated) });
    res.end(truncated);
    return "sent";
  }
  if (fault?.kind === "dropSocket") {
    const bytes = Buffer.from(body);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": bytes.length });
    res.write(bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2))), () => res.socket?.destroy());
    return "dropped";
  }
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
  return "sent";
}
