// What a denied request gets back: status, body and headers per access-denied reason, resolved once at
// configure time. Body templates may hold {feature} and {reason}, replaced as plain text.
import { HeaderPair, serializeHeaderMap } from "../binding/headerMapCodec";
import { Reason } from "./reasons";
import { denyBody } from "./jsonWriter";

/** Slots per reason: 0..14 are Stigg's proto numbers, 15 is MissingCustomerId. */
export const RESPONSE_SLOTS: i32 = 16;
const MISSING_CUSTOMER_SLOT: i32 = 15;

export function reasonSlot(reason: i32): i32 {
  if (reason == Reason.MissingCustomerId) return MISSING_CUSTOMER_SLOT;
  return reason >= 1 && reason < MISSING_CUSTOMER_SLOT ? reason : Reason.Unknown;
}

export class DenyResponse {
  status: u32 = 403;
  /** null: the built-in JSON body. */
  bodyTemplate: string | null = null;
  headers: HeaderPair[] = [];
  /** `headers` serialized for proxy_send_local_response, once at configure time. */
  headerBytes: ArrayBuffer = new ArrayBuffer(0);
  /** The same plus `x-entitlement-fallback: true`, for denials decided by the fallback. */
  fallbackHeaderBytes: ArrayBuffer = new ArrayBuffer(0);
}

/** One configured entry (any field may be absent). */
export class DenyResponseSpec {
  status: u32 = 0;
  hasBody: bool = false;
  body: string = "";
  hasHeaders: bool = false;
  headers: HeaderPair[] = [];
}

export function builtinStatus(reason: i32): u32 {
  return reason == Reason.RequestedUsageExceedingLimit ? 429 : 403;
}

/** Per slot: the reason's own entry, else "default", else the built-in response. */
export function resolveDenyResponses(specs: Array<DenyResponseSpec | null>, defaults: DenyResponseSpec | null): DenyResponse[] {
  const out = new Array<DenyResponse>(RESPONSE_SLOTS);
  for (let slot = 0; slot < RESPONSE_SLOTS; slot++) {
    const reason = slot == MISSING_CUSTOMER_SLOT ? Reason.MissingCustomerId : slot;
    const own = unchecked(specs[slot]);
    const response = new DenyResponse();
    response.status = builtinStatus(reason);
    if (defaults !== null && defaults.status != 0) response.status = defaults.status;
    if (own !== null && own.status != 0) response.status = own.status;
    if (defaults !== null && defaults.hasBody) response.bodyTemplate = defaults.body;
    if (own !== null && own.hasBody) response.bodyTemplate = own.body;
    let headers: HeaderPair[] | null = null;
    if (defaults !== null && defaults.hasHeaders) headers = defaults.headers;
    if (own !== null && own.hasHeaders) headers = own.headers;
    if (headers === null) {
      headers = response.bodyTemplate === null ? [new HeaderPair("content-type", "application/json")] : new Array<HeaderPair>();
    }
    response.headers = headers!;
    response.headerBytes = serializeHeaderMap(headers!);
    const withFallback = headers!.slice(0);
    withFallback.push(new HeaderPair("x-entitlement-fallback", "true"));
    response.fallbackHeaderBytes = serializeHeaderMap(withFallback);
    unchecked(out[slot] = response);
  }
  return out;
}

export function renderDenyBody(response: DenyResponse, feature: string, reason: string): string {
  const template = response.bodyTemplate;
  if (template === null) return denyBody(feature, reason);
  if (!template.includes("{")) return template;
  return template.replaceAll("{feature}", feature).replaceAll("{reason}", reason);
}
