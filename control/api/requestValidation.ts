// Validation of Sidecar requests where they enter: every problem becomes INVALID_ARGUMENT with a
// message naming the field (`customer_id: must not be empty`); handlers only see checked values.
import type { DimensionValue, UsageEventInput, UsageReportInput, UsageUpdateBehavior } from "../read/readTypes.ts";
import type { WireDimensionValue, WireEvent, WireReportUsageRequest, WireTimestamp } from "./sidecarProto.ts";

/** Stigg documents no limit; ours keeps one request from carrying megabytes of id. */
export const MAX_ID_BYTES = 1024;
/** Beyond this a double no longer counts single units exactly (2^53 ≈ 9e15). */
export const MAX_USAGE = 1e15;

export class RequestError extends Error {
  constructor(readonly field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = "RequestError";
  }
}

export function requiredId(value: string | undefined, field: string): string {
  if (value === undefined || value === "") throw new RequestError(field, "must not be empty");
  return checkedId(value, field);
}

/** An absent or empty optional id is "not given" (proto3 clients often send "" for unset). */
export function optionalId(value: string | undefined, field: string): string | undefined {
  if (value === undefined || value === "") return undefined;
  return checkedId(value, field);
}

function checkedId(value: string, field: string): string {
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > MAX_ID_BYTES) throw new RequestError(field, `must be at most ${MAX_ID_BYTES} bytes (got ${bytes})`);
  return value;
}

export function optionalRequestedUsage(value: number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(value)) throw new RequestError(field, "must be a number (got NaN)");
  if (value < 0) throw new RequestError(field, `must not be negative (got ${value})`);
  if (!(value <= MAX_USAGE)) throw new RequestError(field, `must be at most ${MAX_USAGE} (got ${value})`);
  return value;
}

export function stringList(values: readonly string[] | undefined, field: string): string[] | undefined {
  if (values === undefined) return undefined;
  values.forEach((v, i) => checkedId(v, `${field}[${i}]`));
  return [...values];
}

const UPDATE_BEHAVIORS: Readonly<Record<string, UsageUpdateBehavior>> = {
  USAGE_UPDATE_BEHAVIOR_UNSPECIFIED: "DELTA",
  USAGE_UPDATE_BEHAVIOR_DELTA: "DELTA",
  USAGE_UPDATE_BEHAVIOR_SET: "SET",
};

export function timestampMs(value: WireTimestamp | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value.seconds ?? 0);
  const nanos = value.nanos ?? 0;
  if (!Number.isFinite(seconds) || nanos < 0 || nanos > 999_999_999) throw new RequestError(field, "is not a valid timestamp");
  // google.protobuf.Timestamp's documented range (years 1 to 9999); beyond it Date cannot print the value.
  if (seconds < -62_135_596_800 || seconds > 253_402_300_799) throw new RequestError(field, "is outside 0001-01-01 to 9999-12-31");
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

export function dimensions(raw: Record<string, WireDimensionValue> | undefined, field: string): Record<string, DimensionValue> | undefined {
  if (raw === undefined) return undefined;
  const out: Record<string, DimensionValue> = {};
  for (const [key, value] of Object.entries(raw)) {
    checkedId(key, `${field}.key`);
    const picked = value.value === undefined ? undefined : value[value.value];
    if (picked === undefined) throw new RequestError(`${field}[${JSON.stringify(key)}]`, "must set one of string_value, number_value, boolean_value");
    if (typeof picked === "number" && !Number.isFinite(picked)) throw new RequestError(`${field}[${JSON.stringify(key)}].number_value`, "must be finite");
    out[key] = picked;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `at` prefixes field names inside a bulk request (`usages[2].`). */
export function usageReport(request: WireReportUsageRequest, at = ""): UsageReportInput {
  const customerId = requiredId(request.customer_id, `${at}customer_id`);
  const featureId = requiredId(request.feature_id, `${at}feature_id`);
  const resourceId = optionalId(request.resource_id, `${at}resource_id`);
  const value = request.value ?? 0;
  const behaviorName = request.update_behavior ?? "USAGE_UPDATE_BEHAVIOR_UNSPECIFIED";
  const updateBehavior = typeof behaviorName === "string" ? UPDATE_BEHAVIORS[behaviorName] : undefined;
  if (updateBehavior === undefined) throw new RequestError(`${at}update_behavior`, `unknown value ${String(behaviorName)}`);
  if (!Number.isFinite(value)) throw new RequestError(`${at}value`, `must be a finite number (got ${value})`);
  if (Math.abs(value) > MAX_USAGE) throw new RequestError(`${at}value`, `must be within ±${MAX_USAGE} (got ${value})`);
  if (updateBehavior === "SET" && value < 0) throw new RequestError(`${at}value`, `must not be negative with USAGE_UPDATE_BEHAVIOR_SET (got ${value})`);
  const input: UsageReportInput = { customerId, featureId, value, updateBehavior };
  if (resourceId !== undefined) input.resourceId = resourceId;
  const timestamp = timestampMs(request.timestamp, `${at}timestamp`);
  if (timestamp !== undefined) input.timestamp = timestamp;
  const dims = dimensions(request.dimensions, `${at}dimensions`);
  if (dims !== undefined) input.dimensions = dims;
  return input;
}

export function usageEvent(event: WireEvent, at: string): UsageEventInput {
  const input: UsageEventInput = {
    eventName: requiredId(event.event_name, `${at}event_name`),
    customerId: requiredId(event.customer_id, `${at}customer_id`),
    idempotencyKey: requiredId(event.idempotency_key, `${at}idempotency_key`),
  };
  const resourceId = optionalId(event.resource_id, `${at}resource_id`);
  if (resourceId !== undefined) input.resourceId = resourceId;
  const dims = dimensions(event.dimensions, `${at}dimensions`);
  if (dims !== undefined) input.dimensions = dims;
  const timestamp = timestampMs(event.timestamp, `${at}timestamp`);
  if (timestamp !== undefined) input.timestamp = timestamp;
  return input;
}
