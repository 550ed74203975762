// Hand-written protobuf decoders for the three requests received most (GetBooleanEntitlementRequest,
// GetMeteredEntitlementRequest, ext_authz CheckRequest). Each returns the very object proto-loader's
// requestDeserialize returns (protobufjs 7 `toObject(decode(bytes))` under the loader options of
// sidecarProto.ts / extAuthzProto.ts: snake_case keys, only fields present on the wire, proto3
// `optional` and oneof members followed by their oneof's name, enums as names or unknown numbers,
// int64 as numbers, bytes as Buffers, maps as plain objects), or undefined when the bytes are anything
// but the plain, well-formed encoding they cover: the caller then decodes with proto-loader, whose
// object or error stands. So they only ever accept what protobufjs accepts, and never reject.
//
// Not covered (undefined): an unknown field; a known field with another wire type; a singular field or
// a second member of a oneof seen twice (protobufjs keeps the last without merging); a tag longer than
// one byte; a varint that does not end inside its message or is longer than its type allows (five
// bytes for 32-bit fields, so a negative int32 or enum); a length reaching past its message (protobufjs
// cuts such strings short instead); a map entry with other fields or a key or value twice, or the key
// "__proto__"; Address pipe / envoy_internal_address; non-empty Metadata. Strings are read with the
// same Buffer#utf8Slice protobufjs's BufferReader uses, so invalid UTF-8 becomes the same U+FFFD.
// test/control/hotRequestDecoders.test.ts and test/fuzz/hotRequestDecoders.test.ts compare both.

/** Bytes the hand-written decoder does not cover: proto-loader decodes the whole message instead. */
export const NOT_COVERED = new Error("not covered by the hand-written decoder");

type Obj = Record<string, unknown>;

/** Node's own UTF-8 slice, which protobufjs's BufferReader#string calls. */
interface Utf8Slicing {
  utf8Slice(start: number, end: number): string;
}

// Making a string is most of the cost of decoding (a call into C++ and an allocation each), and most
// strings Envoy and the SDKs send recur from call to call: header names, methods, hosts, schemes,
// addresses, customer and feature ids. Short ASCII strings are therefore kept in a small direct-mapped
// table by a hash of their bytes; a hit is a string whose UTF-16 units equal the bytes one for one,
// which is exactly what utf8Slice makes of ASCII bytes. Anything else is sliced as protobufjs does.
// The table keeps at most 1024 recent strings (64 KB) until replaced, so what may carry a credential or
// never recurs is never put in it: request ids, paths, queries, fragments, bodies, and the values of
// headers whose names suggest a credential (`mayKeepValueOf`).
const INTERNED_MAX_BYTES = 64;
const INTERNED_SLOTS = 1024;
const interned: string[] = new Array<string>(INTERNED_SLOTS).fill("");

export function internedString(buf: Buffer, start: number, stop: number): string {
  const n = stop - start;
  if (n > INTERNED_MAX_BYTES) return (buf as unknown as Utf8Slicing).utf8Slice(start, stop);
  // The slot from the length and a few bytes; the comparison below reads them all.
  const last = stop - 1;
  let h = Math.imul(n, 0x9e3779b1) ^ buf[start]! ^ (buf[last]! << 7) ^ (buf[start + (n >> 1)]! << 14) ^ (buf[last - (n >> 2)]! << 21);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  const slot = (h ^ (h >>> 13)) & (INTERNED_SLOTS - 1);
  const cached = interned[slot]!;
  if (cached.length === n) {
    // A cached string is all ASCII, so a byte of 0x80 or more never matches.
    let i = 0;
    while (i < n && cached.charCodeAt(i) === buf[start + i]) i++;
    if (i === n) return cached;
  }
  const s = (buf as unknown as Utf8Slicing).utf8Slice(start, stop);
  if (s.length === n && isAscii(buf, start, stop)) interned[slot] = s;
  return s;
}

/** Whether the string table holds `value` now (tests: what must never be kept is not). */
export function stringTableHolds(value: string): boolean {
  return interned.includes(value);
}

function isAscii(buf: Buffer, start: number, stop: number): boolean {
  for (let i = start; i < stop; i++) if (buf[i]! >= 0x80) return false;
  return true;
}

export class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** A one-byte tag (every field number here is below 16); a longer tag is not covered. */
  tag(end: number): number {
    if (this.pos >= end) throw NOT_COVERED;
    const t = this.buf[this.pos++]!;
    if (t >= 0x80) throw NOT_COVERED;
    return t;
  }

  /** An unsigned 32-bit varint of at most five bytes, ending before `end`, read as protobufjs's uint32. */
  uint32(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= end) throw NOT_COVERED;
    let b = buf[pos++]!;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let value = b & 0x7f;
    for (let shift = 7; shift < 28; shift += 7) {
      if (pos >= end) throw NOT_COVERED;
      b = buf[pos++]!;
      value |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return value >>> 0;
      }
    }
    // Fifth byte: protobufjs keeps its low four bits and skips up to five more bytes unread; only a
    // fifth byte holding nothing beyond 32 bits is covered.
    if (pos >= end) throw NOT_COVERED;
    b = buf[pos++]!;
    if (b > 0x0f) throw NOT_COVERED;
    this.pos = pos;
    return (value | (b << 28)) >>> 0;
  }

  /** The end of a length-delimited value starting here, inside `end`. */
  length(end: number): number {
    const n = this.uint32(end);
    const stop = this.pos + n;
    if (stop > end) throw NOT_COVERED;
    return stop;
  }

  /** Past a length-delimited value whose contents are not read (any bytes are a valid string or bytes). */
  skip(end: number): void {
    this.pos = this.length(end);
  }

  /** `keep` false: a string that may carry a credential or never recurs, sliced and never kept. */
  string(end: number, keep = true): string {
    const stop = this.length(end);
    const start = this.pos;
    this.pos = stop;
    if (start === stop) return "";
    return keep ? internedString(this.buf, start, stop) : (this.buf as unknown as Utf8Slicing).utf8Slice(start, stop);
  }

  /** As protobufjs: a slice sharing the request's memory, or a new empty Buffer. */
  bytes(end: number): Buffer {
    const stop = this.length(end);
    const start = this.pos;
    this.pos = stop;
    return start === stop ? Buffer.alloc(0) : this.buf.subarray(start, stop);
  }

  double(end: number): number {
    const pos = this.pos;
    if (pos + 8 > end) throw NOT_COVERED;
    this.pos = pos + 8;
    return this.buf.readDoubleLE(pos);
  }

  bool(end: number): boolean {
    return this.uint32(end) !== 0;
  }

  /**
   * A signed 64-bit varint as a number, as protobufjs reads it into low and high words (LongBits) and
   * proto-loader's `longs: Number` turns them into a double (so beyond 2^53 it rounds the same way).
   */
  int64(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    let i = 0;
    for (; i < 4; i++) {
      if (pos >= end) throw NOT_COVERED;
      b = buf[pos++]!;
      lo = (lo | ((b & 0x7f) << (i * 7))) >>> 0;
      if (b < 0x80) {
        this.pos = pos;
        return lo;
      }
    }
    if (pos >= end) throw NOT_COVERED;
    b = buf[pos++]!;
    lo = (lo | ((b & 0x7f) << 28)) >>> 0;
    hi = (hi | ((b & 0x7f) >> 4)) >>> 0;
    if (b >= 0x80) {
      for (i = 0; ; i++) {
        if (i === 5 || pos >= end) throw NOT_COVERED;
        b = buf[pos++]!;
        hi = (hi | ((b & 0x7f) << (i * 7 + 3))) >>> 0;
        if (b < 0x80) break;
      }
    }
    this.pos = pos;
    if (hi >>> 31) {
      let nlo = (~lo + 1) >>> 0;
      let nhi = ~hi >>> 0;
      if (!nlo) nhi = (nhi + 1) >>> 0;
      return -(nlo + nhi * 4294967296);
    }
    return lo + hi * 4294967296;
  }

  /**
   * One map<string, string> entry (key 1, value 2, either may be missing: protobufjs then uses "")
   * added to `into`; repeated keys keep the last value in the first key's place, as protobufjs's map.
   */
  stringEntry(end: number, into: Record<string, string>): void {
    const stop = this.length(end);
    let key: string | undefined;
    let value: string | undefined;
    while (this.pos < stop) {
      const t = this.tag(stop);
      if (t === 0x0a && key === undefined) key = this.string(stop);
      else if (t === 0x12 && value === undefined) value = this.string(stop, key !== undefined && mayKeepValueOf(key));
      else throw NOT_COVERED;
    }
    // protobufjs defines "__proto__" as an own key; not worth mirroring.
    if (key === "__proto__") throw NOT_COVERED;
    into[key ?? ""] = value ?? "";
  }
}

const CREDENTIAL_NAME = /auth|cookie|token|secret|key|session|pass|sign|cred/i;
/** Header names seen, and whether their values may be kept; bounded, as names come from clients. */
const keepableNames = new Map<string, boolean>();

/** False for a header (or label) whose value may be a credential: it is never kept in the string table. */
export function mayKeepValueOf(name: string): boolean {
  let keep = keepableNames.get(name);
  if (keep === undefined) {
    keep = !CREDENTIAL_NAME.test(name);
    if (keepableNames.size < 512) keepableNames.set(name, keep);
  }
  return keep;
}

/** A singular field seen before: protobufjs keeps the last one (messages replaced, not merged); not covered. */
function absent(previous: unknown): void {
  if (previous !== undefined) throw NOT_COVERED;
}

// Tags: (field number << 3) | wire type; 0 varint, 1 fixed64, 2 length-delimited.

// ---- stigg.sidecar.v1 -----------------------------------------------------------------------------

/** BooleanEntitlementFallback { has_access 1 } and MeteredEntitlementFallback { …, optional usage_limit 2 (double), optional is_unlimited 3 }. */
function fallback(c: Cursor, end: number, metered: boolean): Obj {
  let hasAccess: boolean | undefined;
  let usageLimit: number | undefined;
  let isUnlimited: boolean | undefined;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x08) {
      absent(hasAccess);
      hasAccess = c.bool(end);
    } else if (t === 0x11 && metered) {
      absent(usageLimit);
      usageLimit = c.double(end);
    } else if (t === 0x18 && metered) {
      absent(isUnlimited);
      isUnlimited = c.bool(end);
    } else throw NOT_COVERED;
  }
  const m: Obj = {};
  if (hasAccess !== undefined) m.has_access = hasAccess;
  if (usageLimit !== undefined) {
    m.usage_limit = usageLimit;
    m._usage_limit = "usage_limit";
  }
  if (isUnlimited !== undefined) {
    m.is_unlimited = isUnlimited;
    m._is_unlimited = "is_unlimited";
  }
  return m;
}

/** BooleanEntitlementOptions { optional fallback 1 }. */
function booleanOptions(c: Cursor, end: number): Obj {
  let fb: Obj | undefined;
  while (c.pos < end) {
    if (c.tag(end) !== 0x0a) throw NOT_COVERED;
    absent(fb);
    fb = fallback(c, c.length(end), false);
  }
  return fb === undefined ? {} : { fallback: fb, _fallback: "fallback" };
}

/** MeteredEntitlementOptions { optional requested_usage 1 (double), optional fallback 2 }. */
function meteredOptions(c: Cursor, end: number): Obj {
  let requestedUsage: number | undefined;
  let fb: Obj | undefined;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x09) {
      absent(requestedUsage);
      requestedUsage = c.double(end);
    } else if (t === 0x12) {
      absent(fb);
      fb = fallback(c, c.length(end), true);
    } else throw NOT_COVERED;
  }
  const m: Obj = {};
  if (requestedUsage !== undefined) {
    m.requested_usage = requestedUsage;
    m._requested_usage = "requested_usage";
  }
  if (fb !== undefined) {
    m.fallback = fb;
    m._fallback = "fallback";
  }
  return m;
}

/** Get{Boolean,Metered}EntitlementRequest: customer_id 1, feature_id 2, optional resource_id 3, optional options 4. */
function typedRequest(c: Cursor, end: number, options: (c: Cursor, end: number) => Obj): Obj {
  let customerId: string | undefined;
  let featureId: string | undefined;
  let resourceId: string | undefined;
  let opts: Obj | undefined;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x0a) {
      absent(customerId);
      customerId = c.string(end);
    } else if (t === 0x12) {
      absent(featureId);
      featureId = c.string(end);
    } else if (t === 0x1a) {
      absent(resourceId);
      resourceId = c.string(end);
    } else if (t === 0x22) {
      absent(opts);
      opts = options(c, c.length(end));
    } else throw NOT_COVERED;
  }
  const m: Obj = {};
  if (customerId !== undefined) m.customer_id = customerId;
  if (featureId !== undefined) m.feature_id = featureId;
  if (resourceId !== undefined) {
    m.resource_id = resourceId;
    m._resource_id = "resource_id";
  }
  if (opts !== undefined) {
    m.options = opts;
    m._options = "options";
  }
  return m;
}

// ---- envoy.service.auth.v3 ------------------------------------------------------------------------

/** config.core.v3.SocketAddress.Protocol. */
const PROTOCOL: readonly string[] = ["TCP", "UDP"];

/**
 * config.core.v3.SocketAddress: protocol 1 (enum), address 2, oneof port_specifier { port_value 3
 * (uint32), named_port 4 }, resolver_name 5, ipv4_compat 6.
 */
function socketAddress(c: Cursor, end: number): Obj {
  let protocol: number | undefined;
  let address: string | undefined;
  let portValue: number | undefined;
  let namedPort: string | undefined;
  let resolverName: string | undefined;
  let ipv4Compat: boolean | undefined;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x08) {
      absent(protocol);
      protocol = c.uint32(end) | 0;
    } else if (t === 0x12) {
      absent(address);
      address = c.string(end);
    } else if (t === 0x18 && namedPort === undefined) {
      absent(portValue);
      portValue = c.uint32(end);
    } else if (t === 0x22 && portValue === undefined) {
      absent(namedPort);
      namedPort = c.string(end);
    } else if (t === 0x2a) {
      absent(resolverName);
      resolverName = c.string(end);
    } else if (t === 0x30) {
      absent(ipv4Compat);
      ipv4Compat = c.bool(end);
    } else throw NOT_COVERED;
  }
  const m: Obj = {};
  if (protocol !== undefined) m.protocol = PROTOCOL[protocol] ?? protocol;
  if (address !== undefined) m.address = address;
  if (portValue !== undefined) {
    m.port_value = portValue;
    m.port_specifier = "port_value";
  }
  if (namedPort !== undefined) {
    m.named_port = namedPort;
    m.port_specifier = "named_port";
  }
  if (resolverName !== undefined) m.resolver_name = resolverName;
  if (ipv4Compat !== undefined) m.ipv4_compat = ipv4Compat;
  return m;
}

/** config.core.v3.Address: oneof address { socket_address 1 } (pipe 2 and envoy_internal_address 3 are not covered). */
function address(c: Cursor, end: number): Obj {
  let socket: Obj | undefined;
  while (c.pos < end) {
    if (c.tag(end) !== 0x0a) throw NOT_COVERED;
    absent(socket);
    socket = socketAddress(c, c.length(end));
  }
  return socket === undefined ? {} : { socket_address: socket, address: "socket_address" };
}

/** AttributeContext.Peer: address 1, service 2, labels 3 (map), principal 4, certificate 5. */
function peer(c: Cursor, end: number): Obj {
  let addr: Obj | undefined;
  let service: string | undefined;
  let labels: Record<string, string> | undefined;
  let principal: string | undefined;
  let certificate: string | undefined;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x0a) {
      absent(addr);
      addr = address(c, c.length(end));
    } else if (t === 0x12) {
      absent(service);
      service = c.string(end);
    } else if (t === 0x1a) c.stringEntry(end, (labels ??= {}));
    else if (t === 0x22) {
      absent(principal);
      principal = c.string(end);
    } else if (t === 0x2a) {
      absent(certificate);
      certificate = c.string(end);
    } else throw NOT_COVERED;
  }
  const m: Obj = {};
  if (addr !== undefined) m.address = addr;
  if (service !== undefined) m.service = service;
  if (labels !== undefined) m.labels = labels;
  if (principal !== undefined) m.principal = principal;
  if (certificate !== undefined) m.certificate = certificate;
  return m;
}

/** google.protobuf.Timestamp: seconds 1 (int64), nanos 2 (int32). */
function timestamp(c: Cursor, end: number): Obj {
  let seconds: number | undefined;
  let nanos: number | undefined;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x08) {
      absent(seconds);
      seconds = c.int64(end);
    } else if (t === 0x10) {
      absent(nanos);
      nanos = c.uint32(end) | 0;
    } else throw NOT_COVERED;
  }
  const m: Obj = {};
  if (seconds !== undefined) m.seconds = seconds;
  if (nanos !== undefined) m.nanos = nanos;
  return m;
}

/** config.core.v3.HeaderValue: key 1, value 2, raw_value 3 (bytes). */
function headerValue(c: Cursor, end: number): Obj {
  let key: string | undefined;
  let value: string | undefined;
  let rawValue: Buffer | undefined;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x0a) {
      absent(key);
      key = c.string(end);
    } else if (t === 0x12) {
      absent(value);
      value = c.string(end, key !== undefined && mayKeepValueOf(key));
    } else if (t === 0x1a) {
      absent(rawValue);
      rawValue = c.bytes(end);
    } else throw NOT_COVERED;
  }
  const m: Obj = {};
  if (key !== undefined) m.key = key;
  if (value !== undefined) m.value = value;
  if (rawValue !== undefined) m.raw_value = rawValue;
  return m;
}

/** config.core.v3.HeaderMap: repeated HeaderValue headers 1. */
function headerMap(c: Cursor, end: number): Obj {
  const headers: Obj[] = [];
  while (c.pos < end) {
    if (c.tag(end) !== 0x0a) throw NOT_COVERED;
    headers.push(headerValue(c, c.length(end)));
  }
  return headers.length === 0 ? {} : { headers };
}

/**
 * AttributeContext.HttpRequest: id 1, method 2, headers 3 (map), path 4, host 5, scheme 6, query 7,
 * fragment 8, size 9 (int64), protocol 10, body 11, raw_body 12 (bytes), header_map 13.
 */
function httpRequest(c: Cursor, end: number): Obj {
  let id: string | undefined;
  let method: string | undefined;
  let headers: Record<string, string> | undefined;
  let path: string | undefined;
  let host: string | undefined;
  let scheme: string | undefined;
  let query: string | undefined;
  let fragment: string | undefined;
  let size: number | undefined;
  let protocol: string | undefined;
  let body: string | undefined;
  let rawBody: Buffer | undefined;
  let headerMapValue: Obj | undefined;
  while (c.pos < end) {
    switch (c.tag(end)) {
      case 0x0a:
        absent(id);
        id = c.string(end, false);
        break;
      case 0x12:
        absent(method);
        method = c.string(end);
        break;
      case 0x1a:
        c.stringEntry(end, (headers ??= {}));
        break;
      case 0x22:
        absent(path);
        path = c.string(end, false);
        break;
      case 0x2a:
        absent(host);
        host = c.string(end);
        break;
      case 0x32:
        absent(scheme);
        scheme = c.string(end);
        break;
      case 0x3a:
        absent(query);
        query = c.string(end, false);
        break;
      case 0x42:
        absent(fragment);
        fragment = c.string(end, false);
        break;
      case 0x48:
        absent(size);
        size = c.int64(end);
        break;
      case 0x52:
        absent(protocol);
        protocol = c.string(end);
        break;
      case 0x5a:
        absent(body);
        body = c.string(end, false);
        break;
      case 0x62:
        absent(rawBody);
        rawBody = c.bytes(end);
        break;
      case 0x6a:
        absent(headerMapValue);
        headerMapValue = headerMap(c, c.length(end));
        break;
      default:
        throw NOT_COVERED;
    }
  }
  const m: Obj = {};
  if (id !== undefined) m.id = id;
  if (method !== undefined) m.method = method;
  if (headers !== undefined) m.headers = headers;
  if (path !== undefined) m.path = path;
  if (host !== undefined) m.host = host;
  if (scheme !== undefined) m.scheme = scheme;
  if (query !== undefined) m.query = query;
  if (fragment !== undefined) m.fragment = fragment;
  if (size !== undefined) m.size = size;
  if (protocol !== undefined) m.protocol = protocol;
  if (body !== undefined) m.body = body;
  if (rawBody !== undefined) m.raw_body = rawBody;
  if (headerMapValue !== undefined) m.header_map = headerMapValue;
  return m;
}

/** AttributeContext.Request: time 1, http 2. */
function request(c: Cursor, end: number): Obj {
  let time: Obj | undefined;
  let http: Obj | undefined;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x0a) {
      absent(time);
      time = timestamp(c, c.length(end));
    } else if (t === 0x12) {
      absent(http);
      http = httpRequest(c, c.length(end));
    } else throw NOT_COVERED;
  }
  const m: Obj = {};
  if (time !== undefined) m.time = time;
  if (http !== undefined) m.http = http;
  return m;
}

/** config.core.v3.Metadata: only the empty one is covered (Envoy sends it so when there is none). */
function emptyMetadata(c: Cursor, end: number): Obj {
  if (c.length(end) !== c.pos) throw NOT_COVERED;
  return {};
}

/** AttributeContext.TLSSession: sni 1. */
function tlsSession(c: Cursor, end: number): Obj {
  let sni: string | undefined;
  while (c.pos < end) {
    if (c.tag(end) !== 0x0a) throw NOT_COVERED;
    absent(sni);
    sni = c.string(end);
  }
  return sni === undefined ? {} : { sni };
}

/**
 * AttributeContext: source 1, destination 2, request 4, context_extensions 10 (map),
 * metadata_context 11, tls_session 12, route_metadata_context 13.
 */
function attributeContext(c: Cursor, end: number): Obj {
  let source: Obj | undefined;
  let destination: Obj | undefined;
  let req: Obj | undefined;
  let contextExtensions: Record<string, string> | undefined;
  let metadataContext: Obj | undefined;
  let tls: Obj | undefined;
  let routeMetadataContext: Obj | undefined;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x0a) {
      absent(source);
      source = peer(c, c.length(end));
    } else if (t === 0x12) {
      absent(destination);
      destination = peer(c, c.length(end));
    } else if (t === 0x22) {
      absent(req);
      req = request(c, c.length(end));
    } else if (t === 0x52) c.stringEntry(end, (contextExtensions ??= {}));
    else if (t === 0x5a) {
      absent(metadataContext);
      metadataContext = emptyMetadata(c, end);
    } else if (t === 0x62) {
      absent(tls);
      tls = tlsSession(c, c.length(end));
    } else if (t === 0x6a) {
      absent(routeMetadataContext);
      routeMetadataContext = emptyMetadata(c, end);
    } else throw NOT_COVERED;
  }
  const m: Obj = {};
  if (source !== undefined) m.source = source;
  if (destination !== undefined) m.destination = destination;
  if (req !== undefined) m.request = req;
  if (contextExtensions !== undefined) m.context_extensions = contextExtensions;
  if (metadataContext !== undefined) m.metadata_context = metadataContext;
  if (tls !== undefined) m.tls_session = tls;
  if (routeMetadataContext !== undefined) m.route_metadata_context = routeMetadataContext;
  return m;
}

/** CheckRequest: attributes 1. */
function checkRequest(c: Cursor, end: number): Obj {
  let attributes: Obj | undefined;
  while (c.pos < end) {
    if (c.tag(end) !== 0x0a) throw NOT_COVERED;
    absent(attributes);
    attributes = attributeContext(c, c.length(end));
  }
  return attributes === undefined ? {} : { attributes };
}

// ---- entry points ---------------------------------------------------------------------------------

/** Any failure (bytes not covered, or a bug) leaves the message to proto-loader, whose object or error then stands. */
function decodeOrUndefined(decode: (c: Cursor, end: number) => Obj, bytes: Buffer): Obj | undefined {
  // protobufjs reads strings of a non-Buffer Uint8Array with its own UTF-8 decoder.
  if (!Buffer.isBuffer(bytes)) return undefined;
  try {
    return decode(new Cursor(bytes), bytes.length);
  } catch {
    return undefined;
  }
}

const booleanRequest = (c: Cursor, end: number): Obj => typedRequest(c, end, booleanOptions);
const meteredRequest = (c: Cursor, end: number): Obj => typedRequest(c, end, meteredOptions);

export function decodeBooleanRequest(bytes: Buffer): Obj | undefined {
  return decodeOrUndefined(booleanRequest, bytes);
}

export function decodeMeteredRequest(bytes: Buffer): Obj | undefined {
  return decodeOrUndefined(meteredRequest, bytes);
}

export function decodeCheckRequest(bytes: Buffer): Obj | undefined {
  return decodeOrUndefined(checkRequest, bytes);
}

/** The hand-written decoder of each method's request, by full method path. */
export const HOT_REQUEST_DECODERS: ReadonlyMap<string, (bytes: Buffer) => object | undefined> = new Map([
  ["/stigg.sidecar.v1.SidecarService/GetBooleanEntitlement", decodeBooleanRequest],
  ["/stigg.sidecar.v1.SidecarService/GetMeteredEntitlement", decodeMeteredRequest],
  ["/envoy.service.auth.v3.Authorization/Check", decodeCheckRequest],
]);
