// Stigg's SidecarService (proto/stigg/sidecar/v1/sidecar.proto) over the control plane's read and
// write paths. Reads never fail because upstream is down: they answer from fallbacks with
// `is_fallback` set. Writes go through the UsageWriter and fail explicitly.
import * as grpc from "@grpc/grpc-js";
import { evaluate, type Decision, type EntitlementKind } from "../evaluation/evaluate.ts";
import {
  resolveFallback,
  untypedFallbackKind,
  type EntitlementFallback,
  type EntitlementsFallback,
  type FallbackEntitlement,
} from "../evaluation/fallback.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { CustomerEntitlements, FeatureEntitlement } from "../model/entitlements.ts";
import type { EntitlementReader, ReadResult, UsageAck, UsageWriter } from "../read/readTypes.ts";
import type { EntitlementStore } from "../store/entitlementStore.ts";
import {
  optionalId,
  optionalRequestedUsage,
  RequestError,
  requiredId,
  stringList,
  usageEvent,
  usageReport,
} from "./requestValidation.ts";
import {
  booleanFromDecision,
  booleanFromFallback,
  configuredFallbackKind,
  decisionHead,
  enumFromDecision,
  enumFromFallback,
  fallbackHead,
  meteredFromDecision,
  meteredFromFallback,
  numericFromDecision,
  numericFromFallback,
  oneofFromDecision,
  oneofFromFallback,
  perCallFallback,
  timestamp,
  wireReason,
} from "./sidecarMessages.ts";
import type {
  WireCustomerRequest,
  WireDecisionHead,
  WireEntitlementOneof,
  WireEntitlementV2,
  WireEvent,
  WireReason,
  WireReportUsageRequest,
  WireReportUsageResponse,
  WireTypedRequest,
  WireV2Request,
} from "./sidecarProto.ts";
import { LastAnswerPerKey } from "./sharedAnswers.ts";
import { unaryHandlers, readOptionsOf, type CallContext, type UnaryHandler, type UnaryMethods } from "./unaryCall.ts";

export interface SidecarServiceOptions {
  reader: EntitlementReader;
  usage: UsageWriter;
  logger: Logger;
  /** ENTITLEMENTS_FALLBACK. */
  entitlementsFallback?: EntitlementsFallback;
  /**
   * When given, an acknowledged usage report's `current_usage` is written to the store (no-op when
   * the writer already did), so the filters receive it as a DELTA.
   */
  store?: EntitlementStore;
  metrics?: Metrics;
  /** Clock for usage-period rollover (tests). */
  now?: () => number;
}

interface FeatureQuery {
  customerId: string;
  resourceId: string | undefined;
  featureId: string;
  requestedUsage: number | undefined;
  requestedValues: string[] | undefined;
  perCall: EntitlementFallback | undefined;
}

/** Either the customer's real decision or a fallback (upstream unavailable, or a type mismatch). */
type Outcome = { decision: Decision; fallback?: undefined } | { fallback: FallbackEntitlement; decision?: undefined };

function featureQuery(request: WireTypedRequest): FeatureQuery {
  const customerId = requiredId(request.customer_id, "customer_id");
  const featureId = requiredId(request.feature_id, "feature_id");
  const options = request.options;
  return {
    customerId,
    featureId,
    resourceId: optionalId(request.resource_id, "resource_id"),
    requestedUsage: optionalRequestedUsage(options?.requested_usage, "options.requested_usage"),
    requestedValues: stringList(options?.requested_values, "options.requested_values"),
    perCall: perCallFallback(options?.fallback),
  };
}

function head(outcome: Outcome): WireDecisionHead {
  return outcome.decision ? decisionHead(outcome.decision) : fallbackHead(outcome.fallback);
}

/** The answer: the head (a new object) with the rest set on it; no object spread on the hot path. */
function withHead<T extends object>(outcome: Outcome, rest: T): WireDecisionHead & T {
  return Object.assign(head(outcome), rest);
}

function booleanAnswer(decision: Decision): object {
  return withHead({ decision }, { entitlement: booleanFromDecision(decision) });
}

function meteredAnswer(decision: Decision): object {
  return withHead({ decision }, { requested_usage: decision.requestedUsage, entitlement: meteredFromDecision(decision) });
}

// What decisionHead, booleanFromDecision and meteredFromDecision read besides the entitlement object
// (the key): answers built from two decisions equal in these are the same.
function sameBooleanAnswer(a: Decision, b: Decision): boolean {
  return a.hasAccess === b.hasAccess && a.accessDeniedReason === b.accessDeniedReason;
}

function sameMeteredAnswer(a: Decision, b: Decision): boolean {
  return (
    sameBooleanAnswer(a, b) &&
    a.isUnlimited === b.isUnlimited &&
    a.hasSoftLimit === b.hasSoftLimit &&
    // Object.is: a double -0 is written unlike 0.
    Object.is(a.requestedUsage, b.requestedUsage) &&
    Object.is(a.currentUsage, b.currentUsage) &&
    Object.is(a.usageLimit, b.usageLimit) &&
    Object.is(a.usagePeriodStart, b.usagePeriodStart) &&
    Object.is(a.usagePeriodEnd, b.usagePeriodEnd)
  );
}

export class SidecarService {
  private readonly reader: EntitlementReader;
  private readonly usage: UsageWriter;
  private readonly logger: Logger;
  private readonly global: EntitlementsFallback | undefined;
  private readonly store: EntitlementStore | undefined;
  private readonly metrics: Metrics | undefined;
  private readonly now: () => number;
  // The last answer per entitlement object the store holds, for a customer asking again.
  private readonly booleanAnswers = new LastAnswerPerKey<FeatureEntitlement, Decision, object>(booleanAnswer, sameBooleanAnswer);
  private readonly meteredAnswers = new LastAnswerPerKey<FeatureEntitlement, Decision, object>(meteredAnswer, sameMeteredAnswer);

  constructor(options: SidecarServiceOptions) {
    this.reader = options.reader;
    this.usage = options.usage;
    this.logger = options.logger.child({ component: "sidecar-api" });
    this.global = options.entitlementsFallback;
    this.store = options.store;
    this.metrics = options.metrics;
    this.now = options.now ?? Date.now;
  }

  /** The RPCs by method name, free of any transport: grpc-js (`handlers`) and the fast path both call these. */
  unaryMethods(): UnaryMethods {
    const methods: Record<string, UnaryHandler<unknown, unknown>> = {
      GetEntitlements: (r, c) => this.getEntitlements(r as WireCustomerRequest, c),
      GetEntitlement: (r, c) => this.getEntitlement(r as WireTypedRequest, c),
      GetBooleanEntitlement: (r, c) => this.getBoolean(r as WireTypedRequest, c),
      GetNumericEntitlement: (r, c) => this.getNumeric(r as WireTypedRequest, c),
      GetMeteredEntitlement: (r, c) => this.getMetered(r as WireTypedRequest, c),
      GetEnumEntitlement: (r, c) => this.getEnum(r as WireTypedRequest, c),
      ReportUsage: (r, c) => this.reportUsage(r as WireReportUsageRequest, c),
      ReportEvents: (r, c) => this.reportEvents(r as { events?: WireEvent[] }, c),
      ReloadEntitlements: (r, c) => this.reload(r as WireCustomerRequest, c),
      ReportUsageBulk: (r, c) => this.reportUsageBulk(r as { usages?: WireReportUsageRequest[] }, c),
      GetEntitlementV2: (r, c) => this.getEntitlementV2(r as WireV2Request, c),
      GetEntitlementsStateV2: (r, c) => this.getEntitlementsStateV2(r as WireCustomerRequest, c),
    };
    return { logger: this.logger, methods };
  }

  handlers(): grpc.UntypedServiceImplementation {
    return unaryHandlers(this.unaryMethods());
  }

  // ---- reads -------------------------------------------------------------------------------

  /** The customer's entry, or undefined when nothing usable could be read in time. */
  private async readEntry(customerId: string, resourceId: string | undefined, context: CallContext): Promise<CustomerEntitlements | undefined> {
    try {
      return this.entryOf(await this.reader.read(customerId, resourceId, readOptionsOf(context)));
    } catch (error) {
      return this.readFailed(error);
    }
  }

  private entryOf(result: ReadResult): CustomerEntitlements | undefined {
    if (!result.entry) this.logger.debug({ source: result.source, error: result.error }, "read unavailable; answering from fallback");
    return result.entry;
  }

  private readFailed(error: unknown): undefined {
    this.logger.debug({ err: error }, "read failed; answering from fallback");
    return undefined;
  }

  /**
   * Reads the customer and builds the answer from the outcome: at once on a cache hit (the reader's
   * readCached), else with one `then` on the reader's promise and nothing else asynchronous.
   */
  private answer<R>(query: FeatureQuery, expectType: EntitlementKind | undefined, context: CallContext, build: (outcome: Outcome) => R): R | Promise<R> {
    const cached = this.reader.readCached?.(query.customerId, query.resourceId);
    if (cached !== undefined) return build(this.outcome(query, expectType, this.entryOf(cached)));
    let read: Promise<ReadResult>;
    try {
      read = this.reader.read(query.customerId, query.resourceId, readOptionsOf(context));
    } catch (error) {
      read = Promise.reject(error);
    }
    return read.then(
      (result) => build(this.outcome(query, expectType, this.entryOf(result))),
      (error: unknown) => build(this.outcome(query, expectType, this.readFailed(error))),
    );
  }

  private outcome(query: FeatureQuery, expectType: EntitlementKind | undefined, entry: CustomerEntitlements | undefined): Outcome {
    const check = { featureId: query.featureId, requestedUsage: query.requestedUsage, requestedValues: query.requestedValues, expectType };
    if (entry === undefined) {
      const kind = expectType ?? untypedFallbackKind(check, query.perCall);
      return this.counted({ fallback: resolveFallback(kind, query.featureId, { perCall: query.perCall, global: this.global }) }, "upstream_unavailable");
    }
    const decision = evaluate(entry, check, this.now());
    if (expectType !== undefined && decision.accessDeniedReason === "FeatureTypeMismatch") {
      const fallback = resolveFallback(expectType, query.featureId, { perCall: query.perCall, global: this.global, reason: "FeatureTypeMismatch" });
      return this.counted({ fallback }, "feature_type_mismatch");
    }
    return this.counted({ decision });
  }

  private counted(outcome: Outcome, fallbackCause?: string): Outcome {
    if (this.metrics) {
      const answer = outcome.decision ?? outcome.fallback;
      const result = outcome.fallback ? "fallback" : answer.hasAccess ? "allow" : "deny";
      this.metrics.countDecision("sidecar", result, answer.accessDeniedReason ?? "");
      if (fallbackCause) this.metrics.fallbacks.inc({ cause: fallbackCause });
    }
    return outcome;
  }

  // The typed reads throw RequestError synchronously on a bad request (runUnary answers INVALID_ARGUMENT).
  private getBoolean(request: WireTypedRequest, context: CallContext): object | Promise<object> {
    return this.answer(featureQuery(request), "BOOLEAN", context, (outcome) => {
      const decision = outcome.decision;
      if (decision?.entitlement) return this.booleanAnswers.get(decision.entitlement, decision);
      return withHead(outcome, { entitlement: decision ? booleanFromDecision(decision) : booleanFromFallback() });
    });
  }

  private getNumeric(request: WireTypedRequest, context: CallContext): object | Promise<object> {
    return this.answer(featureQuery(request), "NUMERIC", context, (outcome) =>
      withHead(outcome, { entitlement: outcome.decision ? numericFromDecision(outcome.decision) : numericFromFallback(outcome.fallback) }),
    );
  }

  private getMetered(request: WireTypedRequest, context: CallContext): object | Promise<object> {
    const query = featureQuery(request);
    return this.answer(query, "METERED", context, (outcome) => {
      const decision = outcome.decision;
      if (decision) return decision.entitlement ? this.meteredAnswers.get(decision.entitlement, decision) : meteredAnswer(decision);
      const requested = query.requestedUsage ?? outcome.fallback.requestedUsage ?? 0;
      return withHead(outcome, { requested_usage: requested, entitlement: meteredFromFallback(outcome.fallback) });
    });
  }

  private getEnum(request: WireTypedRequest, context: CallContext): object | Promise<object> {
    const query = featureQuery(request);
    return this.answer(query, "ENUM", context, (outcome) =>
      withHead(outcome, {
        requested_values: query.requestedValues ?? [],
        entitlement: outcome.decision ? enumFromDecision(outcome.decision) : enumFromFallback(outcome.fallback),
      }),
    );
  }

  private getEntitlement(request: WireTypedRequest, context: CallContext): object | Promise<object> {
    return this.answer(featureQuery(request), undefined, context, (outcome) => withHead(outcome, this.oneof(outcome)));
  }

  private oneof(outcome: Outcome): WireEntitlementOneof {
    return outcome.decision ? oneofFromDecision(outcome.decision) : oneofFromFallback(outcome.fallback);
  }

  private async getEntitlementV2(request: WireV2Request, context: CallContext): Promise<{ entitlement: WireEntitlementV2 }> {
    const customerId = requiredId(request.customer_id, "customer_id");
    const featureId = optionalId(request.feature_id, "feature_id");
    const currencyId = optionalId(request.currency_id, "currency_id");
    if ((featureId === undefined) === (currencyId === undefined)) {
      throw new RequestError(featureId === undefined ? "feature_id" : "currency_id", "exactly one of feature_id and currency_id must be set");
    }
    if (currencyId !== undefined) {
      // Credits are not modelled: a currency is an entitlement this control plane does not have.
      optionalId(request.resource_id, "resource_id");
      this.counted({ fallback: { ...resolveFallback("BOOLEAN", currencyId), accessDeniedReason: "EntitlementNotFound" } }, "credits_unsupported");
      return { entitlement: { has_access: false, is_fallback: true, access_denied_reason: "ACCESS_DENIED_REASON_ENTITLEMENT_NOT_FOUND" } };
    }
    return this.answer(
      featureQuery({ customer_id: customerId, feature_id: featureId, resource_id: request.resource_id, options: request.options }),
      undefined,
      context,
      (outcome) => ({ entitlement: withHead(outcome, this.oneof(outcome)) }),
    );
  }

  /** Every feature of the customer, evaluated without requested usage. */
  private async allFeatures(request: WireCustomerRequest, context: CallContext): Promise<{ entry?: CustomerEntitlements; decisions: Decision[] }> {
    const customerId = requiredId(request.customer_id, "customer_id");
    const resourceId = optionalId(request.resource_id, "resource_id");
    const entry = await this.readEntry(customerId, resourceId, context);
    if (!entry) return { decisions: [] };
    const now = this.now();
    return { entry, decisions: entry.entitlements.map((e) => evaluate(entry, { featureId: e.featureId }, now)) };
  }

  /** Offline or upstream down: one fallback per configured fallback feature (Stigg's behaviour). */
  private configuredFallbacks(): { featureId: string; fallback: FallbackEntitlement }[] {
    this.metrics?.fallbacks.inc({ cause: "upstream_unavailable" });
    return [...(this.global ?? new Map<string, EntitlementFallback>()).entries()].map(([featureId, configured]) => ({
      featureId,
      fallback: resolveFallback(configuredFallbackKind(configured), featureId, { global: this.global }),
    }));
  }

  private async getEntitlements(request: WireCustomerRequest, context: CallContext): Promise<object> {
    const { entry, decisions } = await this.allFeatures(request, context);
    if (!entry) {
      const entitlements = this.configuredFallbacks().map(({ featureId, fallback }) => oneofFromFallback(fallback, featureId));
      return { entitlements, access_denied_reason: "ACCESS_DENIED_REASON_UNKNOWN" satisfies WireReason };
    }
    const response: { entitlements: WireEntitlementOneof[]; access_denied_reason?: WireReason } = {
      entitlements: decisions.map((d) => oneofFromDecision(d)),
    };
    if (entry.accessDeniedReason !== undefined) response.access_denied_reason = wireReason(entry.accessDeniedReason);
    return response;
  }

  private async getEntitlementsStateV2(request: WireCustomerRequest, context: CallContext): Promise<object> {
    const { entry, decisions } = await this.allFeatures(request, context);
    if (!entry) {
      const entitlements: WireEntitlementV2[] = this.configuredFallbacks().map(({ featureId, fallback }) => ({
        ...fallbackHead(fallback),
        ...oneofFromFallback(fallback, featureId),
      }));
      return { entitlements, access_denied_reason: "ACCESS_DENIED_REASON_UNKNOWN" satisfies WireReason };
    }
    const response: { entitlements: WireEntitlementV2[]; access_denied_reason?: WireReason } = {
      entitlements: decisions.map((d) => ({ ...decisionHead(d), ...oneofFromDecision(d) })),
    };
    if (entry.accessDeniedReason !== undefined) response.access_denied_reason = wireReason(entry.accessDeniedReason);
    return response;
  }

  private async reload(request: WireCustomerRequest, context: CallContext): Promise<{ entitled_entity_exists: boolean }> {
    const customerId = requiredId(request.customer_id, "customer_id");
    const resourceId = optionalId(request.resource_id, "resource_id");
    try {
      const { entitledEntityExists } = await this.reader.reload(customerId, resourceId, { signal: context.signal });
      return { entitled_entity_exists: entitledEntityExists };
    } catch (error) {
      // Stigg answers false on any error rather than failing the call.
      this.logger.debug({ err: error }, "reload failed");
      return { entitled_entity_exists: false };
    }
  }

  // ---- writes ------------------------------------------------------------------------------

  private async reportUsage(request: WireReportUsageRequest, context: CallContext): Promise<WireReportUsageResponse> {
    const input = usageReport(request);
    const ack = await this.usage.reportUsage(input, { signal: context.signal });
    this.applyAck(ack);
    return wireAck(ack);
  }

  private async reportUsageBulk(request: { usages?: WireReportUsageRequest[] }, context: CallContext): Promise<{ usages: WireReportUsageResponse[] }> {
    // Validate the whole batch first so a bad report sends nothing upstream.
    const inputs = (request.usages ?? []).map((usage, i) => usageReport(usage, `usages[${i}].`));
    if (inputs.length === 0) return { usages: [] };
    const acks = await this.usage.reportUsageBulk(inputs, { signal: context.signal });
    for (const ack of acks) this.applyAck(ack);
    return { usages: acks.map(wireAck) };
  }

  private async reportEvents(request: { events?: WireEvent[] }, context: CallContext): Promise<object> {
    const events = (request.events ?? []).map((event, i) => usageEvent(event, `events[${i}].`));
    if (events.length > 0) await this.usage.reportEvents(events, { signal: context.signal });
    return {};
  }

  /** Idempotent: a writer that already updated the store leaves nothing to change. */
  private applyAck(ack: UsageAck): void {
    if (!this.store || ack.currentUsage === undefined) return;
    const feature = this.store.get(ack.customerId, ack.resourceId)?.value.entitlements.find((e) => e.featureId === ack.featureId);
    if (!feature) return;
    const delta = ack.currentUsage - feature.currentUsage;
    if (delta !== 0) this.store.addUsage(ack.customerId, ack.resourceId, ack.featureId, delta);
  }
}

function wireAck(ack: UsageAck): WireReportUsageResponse {
  const out: WireReportUsageResponse = { measurement_id: ack.measurementId, customer_id: ack.customerId, feature_id: ack.featureId };
  if (ack.resourceId !== undefined) out.resource_id = ack.resourceId;
  if (ack.currentUsage !== undefined) out.current_usage = ack.currentUsage;
  if (ack.usagePeriodStart !== undefined) out.usage_period_start = timestamp(ack.usagePeriodStart);
  if (ack.usagePeriodEnd !== undefined) out.usage_period_end = timestamp(ack.usagePeriodEnd);
  return out;
}
