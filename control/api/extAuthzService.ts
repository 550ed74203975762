// Envoy ext_authz v3 Check with the same decision, headers and deny body as the WASM filter, for
// meshes that cannot run WASM (one network hop per request). Upstream trouble never becomes a gRPC
// error (Envoy would turn it into a 403 or, with failure_mode_allow, let everything through): the
// fallback decides and says so.
import * as grpc from "@grpc/grpc-js";
import { evaluate } from "../evaluation/evaluate.ts";
import { resolveFallback, untypedFallbackKind, type EntitlementsFallback } from "../evaluation/fallback.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { CustomerEntitlements } from "../model/entitlements.ts";
import type { EntitlementReader, ReadResult } from "../read/readTypes.ts";
import { CheckRequestView, NOTHING_TO_STRIP, REQUESTED_USAGE_EXTENSION, viewOfCheckRequest } from "./checkRequestView.ts";
import type { WireCheckRequest, WireCheckResponse, WireHeaderValueOption } from "./extAuthzProto.ts";
import { checkRequestProjection } from "./fastPath/checkRequestProjection.ts";
import { matchRule, type ExtAuthzRule } from "./extAuthzRules.ts";
import { MAX_ID_BYTES, MAX_USAGE, RequestError } from "./requestValidation.ts";
import { SharedAnswers } from "./sharedAnswers.ts";
import { unaryHandlers, readOptionsOf, type CallContext, type UnaryMethods } from "./unaryCall.ts";

export const DEFAULT_EXT_AUTHZ_CUSTOMER_HEADER = "x-customer-id";
export { FEATURE_EXTENSION, REQUESTED_USAGE_EXTENSION } from "./checkRequestView.ts";

export interface ExtAuthzServiceOptions {
  reader: EntitlementReader;
  logger: Logger;
  /** Lower-cased; EXT_AUTHZ_CUSTOMER_HEADER. */
  customerHeader?: string;
  /** EXT_AUTHZ_RULES. */
  rules?: readonly ExtAuthzRule[];
  entitlementsFallback?: EntitlementsFallback;
  metrics?: Metrics;
  now?: () => number;
}

const GRPC_OK = 0;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_RESOURCE_EXHAUSTED = 8;

function header(key: string, value: string): WireHeaderValueOption {
  // Overwrite, never append: a client-sent x-entitlement-* value must not survive next to ours.
  return { header: { key, value }, append: { value: false }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" };
}

/** Answers are only read (encoded) once built, so a constant header is one frozen object shared by all. */
function constantHeader(key: string, value: string): WireHeaderValueOption {
  const option = header(key, value);
  Object.freeze(option.header);
  Object.freeze(option.append);
  return Object.freeze(option);
}

const ALLOW_HEADER = constantHeader("x-entitlement-decision", "allow");
const FALLBACK_HEADER = constantHeader("x-entitlement-fallback", "true");
const JSON_CONTENT_TYPE_HEADER = constantHeader("content-type", "application/json");

function parseRequestedUsage(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > MAX_USAGE) {
    throw new RequestError(`attributes.context_extensions["${REQUESTED_USAGE_EXTENSION}"]`, `must be a number from 0 to ${MAX_USAGE} (got ${JSON.stringify(raw)})`);
  }
  return value;
}

export class ExtAuthzService {
  private readonly reader: EntitlementReader;
  private readonly logger: Logger;
  private readonly customerHeader: string;
  private readonly rules: readonly ExtAuthzRule[];
  private readonly global: EntitlementsFallback | undefined;
  private readonly metrics: Metrics | undefined;
  private readonly now: () => number;
  /** By feature, then customer. */
  private readonly plainAllows = new SharedAnswers<WireCheckResponse>((featureId, customerId) => allowed(customerId, featureId, undefined, NOTHING_TO_STRIP, false));

  constructor(options: ExtAuthzServiceOptions) {
    this.reader = options.reader;
    this.logger = options.logger.child({ component: "ext-authz" });
    this.customerHeader = (options.customerHeader ?? DEFAULT_EXT_AUTHZ_CUSTOMER_HEADER).toLowerCase();
    this.rules = options.rules ?? [];
    this.global = options.entitlementsFallback;
    this.metrics = options.metrics;
    this.now = options.now ?? Date.now;
  }

  /**
   * The RPC by method name, free of any transport: grpc-js (`handlers`) and the fast path both call it;
   * the fast path may decode Check's bytes straight into the view it reads (the projection).
   */
  unaryMethods(): UnaryMethods {
    const projection = checkRequestProjection(this.customerHeader);
    return {
      logger: this.logger,
      methods: { Check: (request, context) => this.check(request as WireCheckRequest | CheckRequestView, context) },
      ...(projection ? { projections: { Check: projection } } : {}),
    };
  }

  handlers(): grpc.UntypedServiceImplementation {
    return unaryHandlers(this.unaryMethods());
  }

  /** Throws RequestError synchronously on a bad request; answers at once on a cache hit, else one `then` on the reader's promise. */
  check(request: WireCheckRequest | CheckRequestView, context: CallContext): WireCheckResponse | Promise<WireCheckResponse> {
    const view = request instanceof CheckRequestView ? request : viewOfCheckRequest(request, this.customerHeader);
    const { customerId, strip } = view;

    const rule = view.feature ? undefined : matchRule(this.rules, view.path ?? "/");
    const featureId = view.feature || rule?.feature;
    if (!featureId) {
      this.count("allow", "");
      return { status: { code: GRPC_OK }, ok_response: { headers: [], headers_to_remove: strip } };
    }
    const requestedUsage = parseRequestedUsage(view.requestedUsage) ?? rule?.requestedUsage;

    if (customerId === "" || Buffer.byteLength(customerId) > MAX_ID_BYTES) {
      this.count("deny", "MissingCustomerId");
      return denied(featureId, "MissingCustomerId", false);
    }

    const cached = this.reader.readCached?.(customerId, undefined);
    if (cached !== undefined) return this.decide(customerId, featureId, requestedUsage, strip, cached.entry);

    let read: Promise<ReadResult>;
    try {
      read = this.reader.read(customerId, undefined, readOptionsOf(context));
    } catch (error) {
      read = Promise.reject(error);
    }
    return read.then(
      (result) => this.decide(customerId, featureId, requestedUsage, strip, result.entry),
      (error: unknown) => {
        this.logger.debug({ err: error }, "read failed; deciding from fallback");
        return this.decide(customerId, featureId, requestedUsage, strip, undefined);
      },
    );
  }

  private decide(customerId: string, featureId: string, requestedUsage: number | undefined, strip: string[], entry: CustomerEntitlements | undefined): WireCheckResponse {
    if (entry === undefined) {
      const check = requestedUsage === undefined ? { featureId } : { featureId, requestedUsage };
      const fallback = resolveFallback(untypedFallbackKind(check), featureId, { global: this.global });
      this.metrics?.fallbacks.inc({ cause: "upstream_unavailable" });
      this.count("fallback", fallback.hasAccess ? "" : fallback.accessDeniedReason);
      if (!fallback.hasAccess) return denied(featureId, fallback.accessDeniedReason, false);
      return allowed(customerId, featureId, undefined, strip, true);
    }

    const decision = evaluate(entry, requestedUsage === undefined ? { featureId } : { featureId, requestedUsage }, this.now());
    if (!decision.hasAccess) {
      const reason = decision.accessDeniedReason ?? "Unknown";
      this.count("deny", reason);
      return denied(featureId, reason, reason === "RequestedUsageExceedingLimit");
    }
    this.count("allow", "");
    // After this request, as the filter reports it.
    const remaining = decision.kind === "METERED" && decision.remaining !== undefined ? Math.max(0, decision.remaining - (requestedUsage ?? 0)) : undefined;
    if (remaining === undefined && strip.length === 0) return this.plainAllows.get(featureId, customerId);
    return allowed(customerId, featureId, remaining, strip, false);
  }

  private count(result: "allow" | "deny" | "fallback", reason: string): void {
    this.metrics?.countDecision("ext_authz", result, reason);
  }
}

function allowed(customerId: string, featureId: string, remaining: number | undefined, strip: string[], fallback: boolean): WireCheckResponse {
  const headers = [
    ALLOW_HEADER,
    header("x-entitlement-customer", customerId),
    header("x-entitlement-feature", featureId),
  ];
  if (remaining !== undefined) headers.push(header("x-entitlement-remaining", String(remaining)));
  if (fallback) headers.push(FALLBACK_HEADER);
  // Only names we do not set ourselves: Envoy may apply removals after additions.
  const ok: NonNullable<WireCheckResponse["ok_response"]> = { headers, headers_to_remove: strip.length === 0 ? strip : strip.filter((name) => !headers.some((h) => h.header.key === name)) };
  // The client sees its remaining quota too, as with the filter.
  if (remaining !== undefined) ok.response_headers_to_add = [header("x-entitlement-remaining", String(remaining))];
  return { status: { code: GRPC_OK }, ok_response: ok };
}

function denied(featureId: string, reason: string, tooMany: boolean): WireCheckResponse {
  return {
    status: { code: tooMany ? GRPC_RESOURCE_EXHAUSTED : GRPC_PERMISSION_DENIED, message: "entitlement_denied" },
    denied_response: {
      status: { code: tooMany ? "TooManyRequests" : "Forbidden" },
      headers: [JSON_CONTENT_TYPE_HEADER],
      body: JSON.stringify({ error: "entitlement_denied", feature: featureId, reason }),
    },
  };
}
