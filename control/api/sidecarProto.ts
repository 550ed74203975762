// Loads Stigg's Sidecar API (proto/stigg/sidecar/v1/sidecar.proto) and describes the JavaScript
// shape of its messages under the loader options below.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { shippedFile } from "../shippedFile.ts";

export const SIDECAR_PROTO_ROOT = shippedFile("proto");
export const SIDECAR_PROTO_FILE = "stigg/sidecar/v1/sidecar.proto";
export const SIDECAR_SERVICE_NAME = "stigg.sidecar.v1.SidecarService";

/**
 * snake_case as in the .proto; `defaults: false` so an unset `optional` field stays absent both ways
 * (protobufjs 7 keeps proto3 `optional` presence); enums as names, an unknown number stays a number
 * so validation can reject it; 64-bit integers as numbers (only Timestamp seconds and
 * cache_max_size_bytes are 64-bit, both far below 2^53).
 */
export const SIDECAR_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [SIDECAR_PROTO_ROOT],
};

export function loadSidecarPackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(SIDECAR_PROTO_FILE, SIDECAR_LOADER_OPTIONS);
}

export function sidecarServiceDefinition(pkg: protoLoader.PackageDefinition = loadSidecarPackage()): grpc.ServiceDefinition {
  return pkg[SIDECAR_SERVICE_NAME] as grpc.ServiceDefinition;
}

/** An enum field as decoded: its name, or the number when this schema does not know it. */
export type WireEnum<Name extends string> = Name | number;

export type WireReason =
  | "ACCESS_DENIED_REASON_UNSPECIFIED"
  | "ACCESS_DENIED_REASON_UNKNOWN"
  | "ACCESS_DENIED_REASON_CUSTOMER_IS_ARCHIVED"
  | "ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND"
  | "ACCESS_DENIED_REASON_CUSTOMER_RESOURCE_NOT_FOUND"
  | "ACCESS_DENIED_REASON_FEATURE_NOT_FOUND"
  | "ACCESS_DENIED_REASON_NO_ACTIVE_SUBSCRIPTION"
  | "ACCESS_DENIED_REASON_NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION"
  | "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT"
  | "ACCESS_DENIED_REASON_BUDGET_EXCEEDED"
  | "ACCESS_DENIED_REASON_REQUESTED_VALUES_MISMATCH"
  | "ACCESS_DENIED_REASON_FEATURE_TYPE_MISMATCH"
  | "ACCESS_DENIED_REASON_INSUFFICIENT_CREDITS"
  | "ACCESS_DENIED_REASON_REVOKED"
  | "ACCESS_DENIED_REASON_ENTITLEMENT_NOT_FOUND";

export type WireFeatureType = "FEATURE_TYPE_UNSPECIFIED" | "FEATURE_TYPE_BOOLEAN" | "FEATURE_TYPE_NUMBER" | "FEATURE_TYPE_ENUM";
export type WireMeterType = "METER_TYPE_UNSPECIFIED" | "METER_TYPE_NONE" | "METER_TYPE_FLUCTUATING" | "METER_TYPE_INCREMENTAL";
export type WireResetPeriod =
  | "ENTITLEMENT_RESET_PERIOD_UNSPECIFIED"
  | "ENTITLEMENT_RESET_PERIOD_DAY"
  | "ENTITLEMENT_RESET_PERIOD_HOUR"
  | "ENTITLEMENT_RESET_PERIOD_MONTH"
  | "ENTITLEMENT_RESET_PERIOD_WEEK"
  | "ENTITLEMENT_RESET_PERIOD_YEAR";
export type WireUpdateBehavior = "USAGE_UPDATE_BEHAVIOR_UNSPECIFIED" | "USAGE_UPDATE_BEHAVIOR_DELTA" | "USAGE_UPDATE_BEHAVIOR_SET";

export interface WireTimestamp {
  seconds?: number | string;
  nanos?: number;
}

export interface WireFeature {
  id: string;
  feature_type: WireFeatureType;
  units?: string;
  units_plural?: string;
  meter_type: WireMeterType;
  is_metered: boolean;
}

export interface WireBooleanEntitlement {
  feature?: WireFeature;
}

export interface WireNumericEntitlement {
  feature?: WireFeature;
  value?: number;
  is_unlimited: boolean;
}

export interface WireMeteredEntitlement {
  feature?: WireFeature;
  usage_limit?: number;
  is_unlimited: boolean;
  current_usage: number;
  reset_period?: WireResetPeriod;
  next_reset_date?: WireTimestamp;
  usage_period_anchor?: WireTimestamp;
  usage_period_start?: WireTimestamp;
  usage_period_end?: WireTimestamp;
  has_soft_limit?: boolean;
}

export interface WireEnumEntitlement {
  feature?: WireFeature;
  enum_values: string[];
}

/** The `entitlement` oneof of Entitlement / GetEntitlementResponse / EntitlementV2 (credit: V2 only). */
export interface WireEntitlementOneof {
  boolean?: WireBooleanEntitlement;
  numeric?: WireNumericEntitlement;
  metered?: WireMeteredEntitlement;
  enum?: WireEnumEntitlement;
}

export interface WireDecisionHead {
  has_access: boolean;
  is_fallback: boolean;
  access_denied_reason?: WireReason;
}

export interface WireEntitlementV2 extends WireDecisionHead, WireEntitlementOneof {}

export interface WireGetEntitlementFallback {
  has_access?: boolean;
  value?: number;
  is_unlimited?: boolean;
  usage_limit?: number;
  enum_values?: string[];
}

export interface WireGetEntitlementOptions {
  fallback?: WireGetEntitlementFallback;
  requested_usage?: number;
  requested_values?: string[];
}

/** The common head of every Get*Entitlement request. */
export interface WireFeatureRequest {
  customer_id?: string;
  feature_id?: string;
  resource_id?: string;
}

export interface WireTypedOptions {
  fallback?: WireGetEntitlementFallback;
  requested_usage?: number;
  requested_values?: string[];
}

export interface WireTypedRequest extends WireFeatureRequest {
  options?: WireTypedOptions;
}

export interface WireV2Request {
  customer_id?: string;
  resource_id?: string;
  feature_id?: string;
  currency_id?: string;
  options?: WireGetEntitlementOptions;
}

export interface WireCustomerRequest {
  customer_id?: string;
  resource_id?: string;
}

export interface WireDimensionValue {
  string_value?: string;
  number_value?: number;
  boolean_value?: boolean;
  value?: "string_value" | "number_value" | "boolean_value";
}

export interface WireReportUsageRequest {
  customer_id?: string;
  resource_id?: string;
  feature_id?: string;
  value?: number;
  update_behavior?: WireEnum<WireUpdateBehavior>;
  dimensions?: Record<string, WireDimensionValue>;
  timestamp?: WireTimestamp;
}

export interface WireReportUsageResponse {
  measurement_id: string;
  customer_id: string;
  resource_id?: string;
  feature_id: string;
  current_usage?: number;
  usage_period_start?: WireTimestamp;
  usage_period_end?: WireTimestamp;
}

export interface WireEvent {
  event_name?: string;
  customer_id?: string;
  idempotency_key?: string;
  resource_id?: string;
  dimensions?: Record<string, WireDimensionValue>;
  timestamp?: WireTimestamp;
}
