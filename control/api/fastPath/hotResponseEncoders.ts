// Hand-written protobuf encoders for the three answers sent most (GetBooleanEntitlementResponse,
// GetMeteredEntitlementResponse, ext_authz CheckResponse), writing the gRPC frame (5-byte prefix and
// message) into one buffer sized beforehand. They produce the bytes proto-loader's serializer produces
// (protobufjs 7 `encode(fromObject(x))`: fields in number order, a field written whenever the object
// has it, even at its default value; repeated fields only when non-empty) for the objects the handlers
// build; anything else in a message (an unknown enum name, a value of an unexpected type) makes them
// return undefined and the caller encodes with proto-loader. test/control/hotResponseEncoders.test.ts
// compares both byte for byte.

/** A value the hand-written encoder does not cover: proto-loader encodes the whole message instead. */
const NOT_COVERED = new Error("not covered by the hand-written encoder");

type Obj = Record<string, unknown>;

// ---- enums (names as the handlers write them; numbers from the .proto files) ----------------------

function table(names: readonly string[]): ReadonlyMap<string, number> {
  return new Map(names.map((name, i) => [name, i]));
}

const ACCESS_DENIED_REASON = table([
  "ACCESS_DENIED_REASON_UNSPECIFIED",
  "ACCESS_DENIED_REASON_UNKNOWN",
  "ACCESS_DENIED_REASON_CUSTOMER_IS_ARCHIVED",
  "ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND",
  "ACCESS_DENIED_REASON_CUSTOMER_RESOURCE_NOT_FOUND",
  "ACCESS_DENIED_REASON_FEATURE_NOT_FOUND",
  "ACCESS_DENIED_REASON_NO_ACTIVE_SUBSCRIPTION",
  "ACCESS_DENIED_REASON_NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION",
  "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT",
  "ACCESS_DENIED_REASON_BUDGET_EXCEEDED",
  "ACCESS_DENIED_REASON_REQUESTED_VALUES_MISMATCH",
  "ACCESS_DENIED_REASON_FEATURE_TYPE_MISMATCH",
  "ACCESS_DENIED_REASON_INSUFFICIENT_CREDITS",
  "ACCESS_DENIED_REASON_REVOKED",
  "ACCESS_DENIED_REASON_ENTITLEMENT_NOT_FOUND",
]);
const FEATURE_TYPE = table(["FEATURE_TYPE_UNSPECIFIED", "FEATURE_TYPE_BOOLEAN", "FEATURE_TYPE_NUMBER", "FEATURE_TYPE_ENUM"]);
const METER_TYPE = table(["METER_TYPE_UNSPECIFIED", "METER_TYPE_NONE", "METER_TYPE_FLUCTUATING", "METER_TYPE_INCREMENTAL"]);
const RESET_PERIOD = table([
  "ENTITLEMENT_RESET_PERIOD_UNSPECIFIED",
  "ENTITLEMENT_RESET_PERIOD_DAY",
  "ENTITLEMENT_RESET_PERIOD_HOUR",
  "ENTITLEMENT_RESET_PERIOD_MONTH",
  "ENTITLEMENT_RESET_PERIOD_WEEK",
  "ENTITLEMENT_RESET_PERIOD_YEAR",
]);
const APPEND_ACTION = table(["APPEND_IF_EXISTS_OR_ADD", "ADD_IF_ABSENT", "OVERWRITE_IF_EXISTS_OR_ADD", "OVERWRITE_IF_EXISTS"]);
/** envoy.type.v3.StatusCode: the two the ext_authz denial sends. */
const HTTP_STATUS: ReadonlyMap<string, number> = new Map([
  ["Forbidden", 403],
  ["TooManyRequests", 429],
]);

// ---- field values (undefined and null mean "not set", as in fromObject) ----------------------------

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function enumValue(names: ReadonlyMap<string, number>, value: unknown): number {
  const n = typeof value === "string" ? names.get(value) : undefined;
  if (n === undefined) throw NOT_COVERED;
  return n;
}

function str(value: unknown): string {
  if (typeof value !== "string") throw NOT_COVERED;
  return value;
}

function num(value: unknown): number {
  if (typeof value !== "number") throw NOT_COVERED;
  return value;
}

function bool(value: unknown): boolean {
  if (typeof value !== "boolean") throw NOT_COVERED;
  return value;
}

/** Size of a set bool field (tag and one byte), once the value is checked. */
function boolFieldSize(value: unknown): number {
  bool(value);
  return 2;
}

/** Size of a set double field (tag and eight bytes), once the value is checked. */
function doubleFieldSize(value: unknown): number {
  num(value);
  return 9;
}

function obj(value: unknown): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw NOT_COVERED;
  return value as Obj;
}

function list(value: unknown): readonly unknown[] {
  if (!Array.isArray(value)) throw NOT_COVERED;
  return value;
}

/** Integral and within int64 as a double can hold it exactly, as Timestamp seconds are. */
function int64(value: unknown): number {
  const n = num(value);
  if (!Number.isSafeInteger(n)) throw NOT_COVERED;
  return n;
}

function int32(value: unknown): number {
  const n = num(value);
  if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) throw NOT_COVERED;
  return n;
}

// ---- sizes ----------------------------------------------------------------------------------------

/** Bytes of a varint for 0 ≤ v < 2^53. */
function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  for (let rest = Math.floor(v / 0x10000000); rest > 0; rest = Math.floor(rest / 0x80)) n++;
  return n;
}

/** int32 and int64 fields: a negative value is sign-extended to ten bytes. */
function signedSize(v: number): number {
  return v < 0 ? 10 : varintSize(v);
}

function stringSize(s: string): number {
  const n = Buffer.byteLength(s);
  return varintSize(n) + n;
}

function nestedSize(n: number): number {
  return varintSize(n) + n;
}

// ---- writer ---------------------------------------------------------------------------------------

class Writer {
  pos = 5;
  constructor(readonly buf: Buffer) {}

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  varint(v: number): void {
    let rest = v;
    while (rest > 0x7f) {
      this.buf[this.pos++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buf[this.pos++] = rest;
  }

  signed(v: number): void {
    if (v >= 0) {
      this.varint(v);
      return;
    }
    // Two's complement over 64 bits, as protobufjs's LongBits: low and high words, then 7 bits at a time.
    const magnitude = -v;
    let lo = magnitude >>> 0;
    let hi = ((magnitude - lo) / 4294967296) >>> 0;
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
    if (++lo > 4294967295) {
      lo = 0;
      if (++hi > 4294967295) hi = 0;
    }
    while (hi !== 0 || lo > 0x7f) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo;
  }

  /**
   * As protobufjs's BufferWriter: the length from Buffer.byteLength; strings under 40 UTF-16 units
   * written by its own UTF-8 loop (a lone surrogate becomes its 3-byte form, ED xx xx), longer ones by
   * Buffer (a lone surrogate becomes U+FFFD, EF BF BD). Same length either way.
   */
  string(s: string): void {
    const n = Buffer.byteLength(s);
    this.varint(n);
    if (s.length >= 40) {
      this.pos += this.buf.write(s, this.pos, n, "utf8");
      return;
    }
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) buf[pos++] = c;
      else if (c < 0x800) {
        buf[pos++] = (c >> 6) | 0xc0;
        buf[pos++] = (c & 0x3f) | 0x80;
      } else if ((c & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c & 0x03ff) << 10) + (s.charCodeAt(++i) & 0x03ff);
        buf[pos++] = (c >> 18) | 0xf0;
        buf[pos++] = ((c >> 12) & 0x3f) | 0x80;
        buf[pos++] = ((c >> 6) & 0x3f) | 0x80;
        buf[pos++] = (c & 0x3f) | 0x80;
      } else {
        buf[pos++] = (c >> 12) | 0xe0;
        buf[pos++] = ((c >> 6) & 0x3f) | 0x80;
        buf[pos++] = (c & 0x3f) | 0x80;
      }
    }
    this.pos = pos;
  }

  double(v: number): void {
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** The finished frame: gRPC prefix (uncompressed, message length) and the message. */
  framed(): Buffer {
    if (this.pos !== this.buf.length) throw NOT_COVERED;
    this.buf[0] = 0;
    this.buf.writeUInt32BE(this.buf.length - 5, 1);
    return this.buf;
  }
}

function frameFor(size: number): Writer {
  return new Writer(Buffer.allocUnsafe(5 + size));
}

// Tags: (field number << 3) | wire type; 0 varint, 1 fixed64, 2 length-delimited. Every field number here is < 16.
const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;
function tag(field: number, wire: number): number {
  return (field << 3) | wire;
}

// ---- stigg.sidecar.v1 -----------------------------------------------------------------------------

/** The head every typed response starts with: has_access 1, is_fallback 2, access_denied_reason 3. */
function headSize(m: Obj): number {
  let size = 0;
  if (isSet(m.has_access)) size += boolFieldSize(m.has_access);
  if (isSet(m.is_fallback)) size += boolFieldSize(m.is_fallback);
  if (isSet(m.access_denied_reason)) size += 1 + signedSize(enumValue(ACCESS_DENIED_REASON, m.access_denied_reason));
  return size;
}

function writeHead(w: Writer, m: Obj): void {
  if (isSet(m.has_access)) {
    w.byte(tag(1, VARINT));
    w.byte(m.has_access ? 1 : 0);
  }
  if (isSet(m.is_fallback)) {
    w.byte(tag(2, VARINT));
    w.byte(m.is_fallback ? 1 : 0);
  }
  if (isSet(m.access_denied_reason)) {
    w.byte(tag(3, VARINT));
    w.signed(enumValue(ACCESS_DENIED_REASON, m.access_denied_reason));
  }
}

/** EntitlementFeature: id 1, feature_type 2, units 3, units_plural 4, meter_type 5, is_metered 6. */
function featureSize(m: Obj): number {
  let size = 0;
  if (isSet(m.id)) size += 1 + stringSize(str(m.id));
  if (isSet(m.feature_type)) size += 1 + signedSize(enumValue(FEATURE_TYPE, m.feature_type));
  if (isSet(m.units)) size += 1 + stringSize(str(m.units));
  if (isSet(m.units_plural)) size += 1 + stringSize(str(m.units_plural));
  if (isSet(m.meter_type)) size += 1 + signedSize(enumValue(METER_TYPE, m.meter_type));
  if (isSet(m.is_metered)) size += boolFieldSize(m.is_metered);
  return size;
}

function writeFeature(w: Writer, m: Obj): void {
  if (isSet(m.id)) {
    w.byte(tag(1, LENGTH));
    w.string(m.id as string);
  }
  if (isSet(m.feature_type)) {
    w.byte(tag(2, VARINT));
    w.signed(enumValue(FEATURE_TYPE, m.feature_type));
  }
  if (isSet(m.units)) {
    w.byte(tag(3, LENGTH));
    w.string(m.units as string);
  }
  if (isSet(m.units_plural)) {
    w.byte(tag(4, LENGTH));
    w.string(m.units_plural as string);
  }
  if (isSet(m.meter_type)) {
    w.byte(tag(5, VARINT));
    w.signed(enumValue(METER_TYPE, m.meter_type));
  }
  if (isSet(m.is_metered)) {
    w.byte(tag(6, VARINT));
    w.byte(m.is_metered ? 1 : 0);
  }
}

/** A message field holding the feature (field 4 in every entitlement payload). */
function featureFieldSize(m: Obj): number {
  return isSet(m.feature) ? 1 + nestedSize(featureSize(obj(m.feature))) : 0;
}

function writeFeatureField(w: Writer, m: Obj): void {
  if (!isSet(m.feature)) return;
  const feature = m.feature as Obj;
  w.byte(tag(4, LENGTH));
  w.varint(featureSize(feature));
  writeFeature(w, feature);
}

/** google.protobuf.Timestamp: seconds 1 (int64), nanos 2 (int32). */
function timestampSize(m: Obj): number {
  let size = 0;
  if (isSet(m.seconds)) size += 1 + signedSize(int64(m.seconds));
  if (isSet(m.nanos)) size += 1 + signedSize(int32(m.nanos));
  return size;
}

function writeTimestampField(w: Writer, field: number, value: unknown): void {
  if (!isSet(value)) return;
  const m = value as Obj;
  w.byte(tag(field, LENGTH));
  w.varint(timestampSize(m));
  if (isSet(m.seconds)) {
    w.byte(tag(1, VARINT));
    w.signed(m.seconds as number);
  }
  if (isSet(m.nanos)) {
    w.byte(tag(2, VARINT));
    w.signed(m.nanos as number);
  }
}

function timestampFieldSize(value: unknown): number {
  return isSet(value) ? 1 + nestedSize(timestampSize(obj(value))) : 0;
}

/**
 * MeteredEntitlement: feature 4, usage_limit 5 (double), is_unlimited 6, current_usage 7 (double),
 * reset_period 9, next_reset_date 10, usage_period_anchor 11, usage_period_start 12, usage_period_end 13,
 * has_soft_limit 14.
 */
function meteredSize(m: Obj): number {
  let size = featureFieldSize(m);
  if (isSet(m.usage_limit)) size += doubleFieldSize(m.usage_limit);
  if (isSet(m.is_unlimited)) size += boolFieldSize(m.is_unlimited);
  if (isSet(m.current_usage)) size += doubleFieldSize(m.current_usage);
  if (isSet(m.reset_period)) size += 1 + signedSize(enumValue(RESET_PERIOD, m.reset_period));
  size += timestampFieldSize(m.next_reset_date) + timestampFieldSize(m.usage_period_anchor);
  size += timestampFieldSize(m.usage_period_start) + timestampFieldSize(m.usage_period_end);
  if (isSet(m.has_soft_limit)) size += boolFieldSize(m.has_soft_limit);
  return size;
}

function writeMetered(w: Writer, m: Obj): void {
  writeFeatureField(w, m);
  if (isSet(m.usage_limit)) {
    w.byte(tag(5, FIXED64));
    w.double(m.usage_limit as number);
  }
  if (isSet(m.is_unlimited)) {
    w.byte(tag(6, VARINT));
    w.byte(m.is_unlimited ? 1 : 0);
  }
  if (isSet(m.current_usage)) {
    w.byte(tag(7, FIXED64));
    w.double(m.current_usage as number);
  }
  if (isSet(m.reset_period)) {
    w.byte(tag(9, VARINT));
    w.signed(enumValue(RESET_PERIOD, m.reset_period));
  }
  writeTimestampField(w, 10, m.next_reset_date);
  writeTimestampField(w, 11, m.usage_period_anchor);
  writeTimestampField(w, 12, m.usage_period_start);
  writeTimestampField(w, 13, m.usage_period_end);
  if (isSet(m.has_soft_limit)) {
    w.byte(tag(14, VARINT));
    w.byte(m.has_soft_limit ? 1 : 0);
  }
}

/** Any failure (a value not covered, or a bug) leaves the message to proto-loader, whose bytes or error then stand. */
function encodeOrUndefined(encode: (m: Obj) => Buffer, message: unknown): Buffer | undefined {
  try {
    return encode(obj(message));
  } catch {
    return undefined;
  }
}

/**
 * Frames of frozen answers. A handler freezes an answer all the way down only when it shares it between
 * calls (control/api/sharedAnswers.ts), so its bytes never change and are encoded once; node:http2 only
 * reads a buffer it writes, so one frame serves every call.
 */
const framesOfFrozen = new WeakMap<object, Buffer>();

function encodeOnceIfFrozen(encode: (m: Obj) => Buffer, message: unknown): Buffer | undefined {
  if (typeof message !== "object" || message === null || !Object.isFrozen(message)) return encodeOrUndefined(encode, message);
  let frame = framesOfFrozen.get(message);
  if (frame === undefined) {
    frame = encodeOrUndefined(encode, message);
    if (frame !== undefined) framesOfFrozen.set(message, frame);
  }
  return frame;
}

/** GetBooleanEntitlementResponse (head, entitlement 4: BooleanEntitlement { feature 4 }), framed. */
function writeBooleanResponse(m: Obj): Buffer {
  const entitlement = isSet(m.entitlement) ? obj(m.entitlement) : undefined;
  const entitlementSize = entitlement === undefined ? 0 : featureFieldSize(entitlement);
  const w = frameFor(headSize(m) + (entitlement === undefined ? 0 : 1 + nestedSize(entitlementSize)));
  writeHead(w, m);
  if (entitlement !== undefined) {
    w.byte(tag(4, LENGTH));
    w.varint(entitlementSize);
    writeFeatureField(w, entitlement);
  }
  return w.framed();
}

export function encodeBooleanResponse(message: unknown): Buffer | undefined {
  return encodeOnceIfFrozen(writeBooleanResponse, message);
}

/** GetMeteredEntitlementResponse (head, requested_usage 4 (double), entitlement 5: MeteredEntitlement), framed. */
function writeMeteredResponse(m: Obj): Buffer {
  const entitlement = isSet(m.entitlement) ? obj(m.entitlement) : undefined;
  const entitlementSize = entitlement === undefined ? 0 : meteredSize(entitlement);
  if (isSet(m.requested_usage)) num(m.requested_usage);
  const size = headSize(m) + (isSet(m.requested_usage) ? 9 : 0) + (entitlement === undefined ? 0 : 1 + nestedSize(entitlementSize));
  const w = frameFor(size);
  writeHead(w, m);
  if (isSet(m.requested_usage)) {
    w.byte(tag(4, FIXED64));
    w.double(m.requested_usage as number);
  }
  if (entitlement !== undefined) {
    w.byte(tag(5, LENGTH));
    w.varint(entitlementSize);
    writeMetered(w, entitlement);
  }
  return w.framed();
}

export function encodeMeteredResponse(message: unknown): Buffer | undefined {
  return encodeOnceIfFrozen(writeMeteredResponse, message);
}

// ---- envoy.service.auth.v3 ------------------------------------------------------------------------

/** config.core.v3.HeaderValue: key 1, value 2 (raw_value 3 is not covered). */
function headerValueSize(m: Obj): number {
  if (isSet(m.raw_value)) throw NOT_COVERED;
  let size = 0;
  if (isSet(m.key)) size += 1 + stringSize(str(m.key));
  if (isSet(m.value)) size += 1 + stringSize(str(m.value));
  return size;
}

/** config.core.v3.HeaderValueOption: header 1, append 2 (BoolValue { value 1 }), append_action 3, keep_empty_value 4. */
function headerOptionSize(m: Obj): number {
  let size = 0;
  if (isSet(m.header)) size += 1 + nestedSize(headerValueSize(obj(m.header)));
  if (isSet(m.append)) {
    const append = obj(m.append);
    size += 1 + nestedSize(isSet(append.value) ? boolFieldSize(append.value) : 0);
  }
  if (isSet(m.append_action)) size += 1 + signedSize(enumValue(APPEND_ACTION, m.append_action));
  if (isSet(m.keep_empty_value)) size += boolFieldSize(m.keep_empty_value);
  return size;
}

function writeHeaderOption(w: Writer, m: Obj): void {
  if (isSet(m.header)) {
    const header = m.header as Obj;
    w.byte(tag(1, LENGTH));
    w.varint(headerValueSize(header));
    if (isSet(header.key)) {
      w.byte(tag(1, LENGTH));
      w.string(header.key as string);
    }
    if (isSet(header.value)) {
      w.byte(tag(2, LENGTH));
      w.string(header.value as string);
    }
  }
  if (isSet(m.append)) {
    const append = m.append as Obj;
    w.byte(tag(2, LENGTH));
    if (isSet(append.value)) {
      w.byte(2);
      w.byte(tag(1, VARINT));
      w.byte(append.value ? 1 : 0);
    } else w.byte(0);
  }
  if (isSet(m.append_action)) {
    w.byte(tag(3, VARINT));
    w.signed(enumValue(APPEND_ACTION, m.append_action));
  }
  if (isSet(m.keep_empty_value)) {
    w.byte(tag(4, VARINT));
    w.byte(m.keep_empty_value ? 1 : 0);
  }
}

function headerOptionsSize(field: unknown): number {
  if (!isSet(field)) return 0;
  let size = 0;
  for (const option of list(field)) size += 1 + nestedSize(headerOptionSize(obj(option)));
  return size;
}

function writeHeaderOptions(w: Writer, field: number, value: unknown): void {
  if (!isSet(value)) return;
  for (const option of value as Obj[]) {
    w.byte(tag(field, LENGTH));
    w.varint(headerOptionSize(option));
    writeHeaderOption(w, option);
  }
}

function stringsSize(value: unknown): number {
  if (!isSet(value)) return 0;
  let size = 0;
  for (const s of list(value)) size += 1 + stringSize(str(s));
  return size;
}

function writeStrings(w: Writer, field: number, value: unknown): void {
  if (!isSet(value)) return;
  for (const s of value as string[]) {
    w.byte(tag(field, LENGTH));
    w.string(s);
  }
}

/** google.rpc.Status: code 1, message 2 (details 3 is not covered). */
function rpcStatusSize(m: Obj): number {
  if (isSet(m.details) && list(m.details).length > 0) throw NOT_COVERED;
  let size = 0;
  if (isSet(m.code)) size += 1 + signedSize(int32(m.code));
  if (isSet(m.message)) size += 1 + stringSize(str(m.message));
  return size;
}

/** OkHttpResponse: headers 2, headers_to_remove 5, response_headers_to_add 6 (the others are not covered). */
function okSize(m: Obj): number {
  for (const other of ["dynamic_metadata", "query_parameters_to_set", "query_parameters_to_remove"]) if (isSet(m[other])) throw NOT_COVERED;
  return headerOptionsSize(m.headers) + stringsSize(m.headers_to_remove) + headerOptionsSize(m.response_headers_to_add);
}

/** DeniedHttpResponse: status 1 (HttpStatus { code 1 }), headers 2, body 3. */
function deniedSize(m: Obj): number {
  let size = 0;
  if (isSet(m.status)) {
    const status = obj(m.status);
    size += 1 + nestedSize(isSet(status.code) ? 1 + signedSize(enumValue(HTTP_STATUS, status.code)) : 0);
  }
  size += headerOptionsSize(m.headers);
  if (isSet(m.body)) size += 1 + stringSize(str(m.body));
  return size;
}

/** CheckResponse: status 1, denied_response 2, ok_response 3 (dynamic_metadata 4 is not covered), framed. */
function writeCheckResponse(m: Obj): Buffer {
  if (isSet(m.dynamic_metadata)) throw NOT_COVERED;
  const status = isSet(m.status) ? obj(m.status) : undefined;
  const denied = isSet(m.denied_response) ? obj(m.denied_response) : undefined;
  const ok = isSet(m.ok_response) ? obj(m.ok_response) : undefined;
  const statusSize = status === undefined ? 0 : rpcStatusSize(status);
  const deniedBodySize = denied === undefined ? 0 : deniedSize(denied);
  const okBodySize = ok === undefined ? 0 : okSize(ok);
  let size = 0;
  if (status !== undefined) size += 1 + nestedSize(statusSize);
  if (denied !== undefined) size += 1 + nestedSize(deniedBodySize);
  if (ok !== undefined) size += 1 + nestedSize(okBodySize);
  const w = frameFor(size);
  if (status !== undefined) {
    w.byte(tag(1, LENGTH));
    w.varint(statusSize);
    if (isSet(status.code)) {
      w.byte(tag(1, VARINT));
      w.signed(status.code as number);
    }
    if (isSet(status.message)) {
      w.byte(tag(2, LENGTH));
      w.string(status.message as string);
    }
  }
  if (denied !== undefined) {
    w.byte(tag(2, LENGTH));
    w.varint(deniedBodySize);
    if (isSet(denied.status)) {
      const code = (denied.status as Obj).code;
      w.byte(tag(1, LENGTH));
      if (isSet(code)) {
        const n = enumValue(HTTP_STATUS, code);
        w.varint(1 + signedSize(n));
        w.byte(tag(1, VARINT));
        w.signed(n);
      } else w.byte(0);
    }
    writeHeaderOptions(w, 2, denied.headers);
    if (isSet(denied.body)) {
      w.byte(tag(3, LENGTH));
      w.string(denied.body as string);
    }
  }
  if (ok !== undefined) {
    w.byte(tag(3, LENGTH));
    w.varint(okBodySize);
    writeHeaderOptions(w, 2, ok.headers);
    writeStrings(w, 5, ok.headers_to_remove);
    writeHeaderOptions(w, 6, ok.response_headers_to_add);
  }
  return w.framed();
}

export function encodeCheckResponse(message: unknown): Buffer | undefined {
  return encodeOnceIfFrozen(writeCheckResponse, message);
}

/** The hand-written encoder of each method's response, by full method path. */
export const FRAMED_RESPONSE_ENCODERS: ReadonlyMap<string, (message: unknown) => Buffer | undefined> = new Map([
  ["/stigg.sidecar.v1.SidecarService/GetBooleanEntitlement", encodeBooleanResponse],
  ["/stigg.sidecar.v1.SidecarService/GetMeteredEntitlement", encodeMeteredResponse],
  ["/envoy.service.auth.v3.Authorization/Check", encodeCheckResponse],
]);
