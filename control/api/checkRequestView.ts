// What an ext_authz Check decision reads from a CheckRequest, and nothing more: the customer id from
// the configured header, our own `x-entitlement-*` headers to strip, the path, and the two per-route
// context extensions. grpc-js hands the handler proto-loader's whole object, which `viewOfCheckRequest`
// reads; the fast path decodes the bytes straight into the view (fastPath/checkRequestProjection.ts)
// and must give the very same view for the same bytes.
import type { WireCheckRequest, WireHeaderValue, WireHttpRequest } from "./extAuthzProto.ts";

/** Per-route settings, set in Envoy with `typed_per_filter_config` → `check_settings.context_extensions`. */
export const FEATURE_EXTENSION = "entitlement_feature";
export const REQUESTED_USAGE_EXTENSION = "entitlement_requested_usage";
export const ENTITLEMENT_HEADER_PREFIX = "x-entitlement-";

export class CheckRequestView {
  constructor(
    /** The last value of the customer header (a later header_map entry overrides the map), or "". */
    readonly customerId: string,
    /** Lower-cased `x-entitlement-*` names, each once, in the order first seen. */
    readonly strip: string[],
    /** attributes.request.http.path as sent, or undefined. */
    readonly path: string | undefined,
    /** context_extensions[FEATURE_EXTENSION], or undefined. */
    readonly feature: string | undefined,
    /** context_extensions[REQUESTED_USAGE_EXTENSION] unparsed, or undefined. */
    readonly requestedUsage: string | undefined,
  ) {}
}

/** Shared by every view with nothing to strip; never written to. */
export const NOTHING_TO_STRIP: string[] = Object.freeze([]) as unknown as string[];

/** The view of proto-loader's object; `customerHeader` lower-cased. */
export function viewOfCheckRequest(request: WireCheckRequest, customerHeader: string): CheckRequestView {
  const http = request.attributes?.request?.http;
  const extensions = request.attributes?.context_extensions;
  const scan = { customerId: "", strip: NOTHING_TO_STRIP };
  scanHeaders(scan, http, customerHeader);
  return new CheckRequestView(scan.customerId, scan.strip, http?.path, extensions?.[FEATURE_EXTENSION], extensions?.[REQUESTED_USAGE_EXTENSION]);
}

interface HeaderScan {
  customerId: string;
  strip: string[];
}

/** One pass over the request headers in either encoding Envoy may use, by lower-cased name. */
function scanHeaders(scan: HeaderScan, http: WireHttpRequest | undefined, customerHeader: string): void {
  const headers = http?.headers;
  if (headers !== undefined) for (const key in headers) noteHeader(scan, key.toLowerCase(), customerHeader, headers[key]!);
  const map = http?.header_map?.headers;
  if (map !== undefined) {
    for (const h of map) {
      if (!h.key) continue;
      const name = h.key.toLowerCase();
      noteHeader(scan, name, customerHeader, name === customerHeader ? headerMapValue(h) : "");
    }
  }
}

function noteHeader(scan: HeaderScan, name: string, customerHeader: string, value: string): void {
  if (name === customerHeader) scan.customerId = value;
  if (name.startsWith(ENTITLEMENT_HEADER_PREFIX)) {
    if (scan.strip === NOTHING_TO_STRIP) scan.strip = [];
    if (!scan.strip.includes(name)) scan.strip.push(name);
  }
}

/** Envoy sends `value` or, for values that are not valid UTF-8, `raw_value`. */
export function headerMapValue(h: WireHeaderValue): string {
  return h.value || (h.raw_value ? Buffer.from(h.raw_value).toString("utf8") : "");
}
