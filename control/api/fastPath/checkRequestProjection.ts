// The ext_authz CheckRequest decoded straight into what the decision reads (CheckRequestView), without
// proto-loader's object: a Check from Envoy carries some 25 strings and 15 nested messages (peers,
// request time, every header) of which the decision reads the customer header, our own headers to
// strip, the path and two context extensions. Everything else is walked, not materialised.
//
// It covers exactly the bytes the hand-written decoder (hotRequestDecoders.ts) covers, under the same
// rules (one-byte tags, known fields with their wire types, singular fields once, no Address pipe, empty
// Metadata only, no map key "__proto__", …) and leaves two more cases to it: header names that are not
// ASCII (JavaScript's toLowerCase could fold them into ours) and header names made only of digits (a
// JavaScript object lists those first). Anything else returns undefined and the message is decoded
// whole, so every answer and every rejection stays the one protobufjs would give.
// test/fuzz/checkRequestProjection.test.ts compares the view with viewOfCheckRequest of proto-loader's
// object on generated and mutated messages.
import { CheckRequestView, ENTITLEMENT_HEADER_PREFIX, FEATURE_EXTENSION, NOTHING_TO_STRIP, REQUESTED_USAGE_EXTENSION } from "../checkRequestView.ts";
import { Cursor, internedString, mayKeepValueOf, NOT_COVERED } from "./hotRequestDecoders.ts";

interface Utf8Slicing {
  utf8Slice(start: number, end: number): string;
}

function slice(buf: Buffer, start: number, stop: number): string {
  return start === stop ? "" : (buf as unknown as Utf8Slicing).utf8Slice(start, stop);
}

const PREFIX = Buffer.from(ENTITLEMENT_HEADER_PREFIX, "latin1");
const FEATURE_KEY = Buffer.from(FEATURE_EXTENSION, "latin1");
const USAGE_KEY = Buffer.from(REQUESTED_USAGE_EXTENSION, "latin1");
const PROTO_KEY = Buffer.from("__proto__", "latin1");

/** Marks a singular field seen; a second one is not covered (protobufjs keeps the last). */
function once(seen: number, bit: number): number {
  if ((seen & bit) !== 0) throw NOT_COVERED;
  return seen | bit;
}

function bytesEqual(buf: Buffer, start: number, stop: number, expected: Buffer): boolean {
  if (stop - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (buf[start + i] !== expected[i]) return false;
  return true;
}

// ---- validated, not read ----------------------------------------------------------------------------

/** config.core.v3.SocketAddress: protocol 1, address 2, port_value 3 | named_port 4, resolver_name 5, ipv4_compat 6. */
function skipSocketAddress(c: Cursor, end: number): void {
  let seen = 0;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x08) {
      seen = once(seen, 1);
      c.uint32(end);
    } else if (t === 0x12) {
      seen = once(seen, 2);
      c.skip(end);
    } else if (t === 0x18 && (seen & 8) === 0) {
      seen = once(seen, 4);
      c.uint32(end);
    } else if (t === 0x22 && (seen & 4) === 0) {
      seen = once(seen, 8);
      c.skip(end);
    } else if (t === 0x2a) {
      seen = once(seen, 16);
      c.skip(end);
    } else if (t === 0x30) {
      seen = once(seen, 32);
      c.uint32(end);
    } else throw NOT_COVERED;
  }
}

/** AttributeContext.Peer: address 1 (Address { socket_address 1 }), service 2, labels 3, principal 4, certificate 5. */
function skipPeer(c: Cursor, end: number): void {
  let seen = 0;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x0a) {
      seen = once(seen, 1);
      const stop = c.length(end);
      let socket = 0;
      while (c.pos < stop) {
        if (c.tag(stop) !== 0x0a) throw NOT_COVERED;
        socket = once(socket, 1);
        skipSocketAddress(c, c.length(stop));
      }
    } else if (t === 0x12) {
      seen = once(seen, 2);
      c.skip(end);
    } else if (t === 0x1a) skipStringEntry(c, end);
    else if (t === 0x22) {
      seen = once(seen, 4);
      c.skip(end);
    } else if (t === 0x2a) {
      seen = once(seen, 8);
      c.skip(end);
    } else throw NOT_COVERED;
  }
}

/** A map<string, string> entry whose key and value are not read. */
function skipStringEntry(c: Cursor, end: number): void {
  const stop = c.length(end);
  let seen = 0;
  while (c.pos < stop) {
    const t = c.tag(stop);
    if (t === 0x0a) {
      seen = once(seen, 1);
      const keyStop = c.length(stop);
      if (bytesEqual(c.buf, c.pos, keyStop, PROTO_KEY)) throw NOT_COVERED;
      c.pos = keyStop;
    } else if (t === 0x12) {
      seen = once(seen, 2);
      c.skip(stop);
    } else throw NOT_COVERED;
  }
}

/** google.protobuf.Timestamp: seconds 1 (int64), nanos 2 (int32). */
function skipTimestamp(c: Cursor, end: number): void {
  let seen = 0;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x08) {
      seen = once(seen, 1);
      c.int64(end);
    } else if (t === 0x10) {
      seen = once(seen, 2);
      c.uint32(end);
    } else throw NOT_COVERED;
  }
}

// ---- read -------------------------------------------------------------------------------------------

/** What the walk collects; turned into the view at the end. */
class Projection {
  /** Raw header-map (field 3) keys matching the customer header, distinct, in first-seen order, and their last values. */
  mapKeys: string[] | undefined;
  mapValues: string[] | undefined;
  mapStrip: string[] = NOTHING_TO_STRIP;
  /** The last header_map (field 13) entry naming the customer header, even when its value is empty. */
  listCustomer: string | undefined;
  listStrip: string[] = NOTHING_TO_STRIP;
  path: string | undefined;
  feature: string | undefined;
  usage: string | undefined;

  constructor(
    readonly customerHeader: Buffer,
    readonly keepCustomer: boolean,
  ) {}

  view(): CheckRequestView {
    // The decision reads the map first, in its keys' order, then header_map in wire order.
    const customerId = this.listCustomer ?? (this.mapValues === undefined ? "" : this.mapValues[this.mapValues.length - 1]!);
    let strip = this.mapStrip;
    if (this.listStrip !== NOTHING_TO_STRIP) {
      if (strip === NOTHING_TO_STRIP) strip = this.listStrip;
      else for (const name of this.listStrip) if (!strip.includes(name)) strip.push(name);
    }
    return new CheckRequestView(customerId, strip, this.path, this.feature, this.usage);
  }
}

/** Flags of a header name: the customer header, one of ours (`x-entitlement-…`); both when so configured. */
const NAME_CUSTOMER = 1;
const NAME_OURS = 2;

/**
 * What a header name is, compared as JavaScript's toLowerCase would see it. Not covered: a name with a
 * byte ≥ 0x80, or only digits.
 */
function classifyName(p: Projection, buf: Buffer, start: number, stop: number): number {
  const n = stop - start;
  const customer = p.customerHeader;
  let isCustomer = n === customer.length;
  let isOurs = n >= PREFIX.length;
  let digits = n > 0;
  for (let i = 0; i < n; i++) {
    let b = buf[start + i]!;
    if (b >= 0x80) throw NOT_COVERED;
    if (b < 0x30 || b > 0x39) digits = false;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (isCustomer && b !== customer[i]) isCustomer = false;
    if (isOurs && i < PREFIX.length && b !== PREFIX[i]) isOurs = false;
  }
  if (digits) throw NOT_COVERED;
  return (isCustomer ? NAME_CUSTOMER : 0) | (isOurs ? NAME_OURS : 0);
}

function addName(list: string[], name: string): string[] {
  if (list === NOTHING_TO_STRIP) return [name];
  if (!list.includes(name)) list.push(name);
  return list;
}

/** Where a map entry's key 1 and value 2 lie (start -1: absent); one scratch object, read before the next entry. */
const entry = { keyStart: -1, keyStop: -1, valueStart: -1, valueStop: -1 };

/** Reads the map entry starting here (key and value in either order, each at most once) into `entry`. */
function mapEntry(c: Cursor, end: number): typeof entry {
  const stop = c.length(end);
  entry.keyStart = entry.keyStop = entry.valueStart = entry.valueStop = -1;
  while (c.pos < stop) {
    const t = c.tag(stop);
    if (t === 0x0a && entry.keyStart < 0) {
      entry.keyStop = c.length(stop);
      entry.keyStart = c.pos;
      c.pos = entry.keyStop;
    } else if (t === 0x12 && entry.valueStart < 0) {
      entry.valueStop = c.length(stop);
      entry.valueStart = c.pos;
      c.pos = entry.valueStop;
    } else throw NOT_COVERED;
  }
  return entry;
}

/** One entry of http.headers (map<string, string>). */
function headerEntry(c: Cursor, end: number, p: Projection): void {
  const { keyStart, keyStop, valueStart, valueStop } = mapEntry(c, end);
  if (keyStart < 0) return; // the key "": never ours, never the customer header
  const buf = c.buf;
  if (bytesEqual(buf, keyStart, keyStop, PROTO_KEY)) throw NOT_COVERED;
  const kind = classifyName(p, buf, keyStart, keyStop);
  if ((kind & NAME_CUSTOMER) !== 0) {
    const key = slice(buf, keyStart, keyStop);
    const value = valueStart < 0 ? "" : p.keepCustomer ? internedString(buf, valueStart, valueStop) : slice(buf, valueStart, valueStop);
    // A repeated key keeps its first place in the object with the last value.
    const at = p.mapKeys === undefined ? -1 : p.mapKeys.indexOf(key);
    if (at >= 0) p.mapValues![at] = value;
    else {
      (p.mapKeys ??= []).push(key);
      (p.mapValues ??= []).push(value);
    }
  }
  if ((kind & NAME_OURS) !== 0) p.mapStrip = addName(p.mapStrip, slice(buf, keyStart, keyStop).toLowerCase());
}

/** config.core.v3.HeaderValue in http.header_map: key 1, value 2, raw_value 3 (bytes), each at most once. */
function headerValue(c: Cursor, end: number, p: Projection): void {
  let keyStart = -1;
  let keyStop = -1;
  let valueStart = -1;
  let valueStop = -1;
  let rawStart = -1;
  let rawStop = -1;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x0a && keyStart < 0) {
      keyStop = c.length(end);
      keyStart = c.pos;
      c.pos = keyStop;
    } else if (t === 0x12 && valueStart < 0) {
      valueStop = c.length(end);
      valueStart = c.pos;
      c.pos = valueStop;
    } else if (t === 0x1a && rawStart < 0) {
      rawStop = c.length(end);
      rawStart = c.pos;
      c.pos = rawStop;
    } else throw NOT_COVERED;
  }
  if (keyStart < 0 || keyStart === keyStop) return; // skipped by the decision: no key
  const buf = c.buf;
  const kind = classifyName(p, buf, keyStart, keyStop);
  if ((kind & NAME_CUSTOMER) !== 0) {
    // As headerMapValue: `value` unless empty, else raw_value as UTF-8.
    p.listCustomer = valueStop > valueStart ? slice(buf, valueStart, valueStop) : rawStart >= 0 ? slice(buf, rawStart, rawStop) : "";
  }
  if ((kind & NAME_OURS) !== 0) p.listStrip = addName(p.listStrip, slice(buf, keyStart, keyStop).toLowerCase());
}

/** AttributeContext.HttpRequest: headers 3, path 4 and header_map 13 read; the other fields walked. */
function httpRequest(c: Cursor, end: number, p: Projection): void {
  let seen = 0;
  while (c.pos < end) {
    const t = c.tag(end);
    switch (t) {
      case 0x1a:
        headerEntry(c, end, p);
        break;
      case 0x22: {
        seen = once(seen, 1 << 4);
        const stop = c.length(end);
        p.path = slice(c.buf, c.pos, stop);
        c.pos = stop;
        break;
      }
      case 0x6a: {
        seen = once(seen, 1 << 13);
        const stop = c.length(end);
        while (c.pos < stop) {
          if (c.tag(stop) !== 0x0a) throw NOT_COVERED;
          headerValue(c, c.length(stop), p);
        }
        break;
      }
      case 0x48:
        seen = once(seen, 1 << 9);
        c.int64(end);
        break;
      default: {
        // id 1, method 2, host 5, scheme 6, query 7, fragment 8, protocol 10, body 11, raw_body 12.
        const field = t >> 3;
        if ((t & 7) !== 2 || field < 1 || field > 12 || field === 3 || field === 4 || field === 9) throw NOT_COVERED;
        seen = once(seen, 1 << field);
        c.skip(end);
      }
    }
  }
}

/** AttributeContext.Request: time 1 walked, http 2 read. */
function request(c: Cursor, end: number, p: Projection): void {
  let seen = 0;
  while (c.pos < end) {
    const t = c.tag(end);
    if (t === 0x0a) {
      seen = once(seen, 1);
      skipTimestamp(c, c.length(end));
    } else if (t === 0x12) {
      seen = once(seen, 2);
      httpRequest(c, c.length(end), p);
    } else throw NOT_COVERED;
  }
}

/** One context_extensions entry; only our two keys are kept (the last value of each). */
function extensionEntry(c: Cursor, end: number, p: Projection): void {
  const { keyStart, keyStop, valueStart, valueStop } = mapEntry(c, end);
  if (keyStart < 0) return;
  const buf = c.buf;
  const value = (): string => (valueStart < 0 ? "" : slice(buf, valueStart, valueStop));
  if (bytesEqual(buf, keyStart, keyStop, FEATURE_KEY)) p.feature = value();
  else if (bytesEqual(buf, keyStart, keyStop, USAGE_KEY)) p.usage = value();
  else if (bytesEqual(buf, keyStart, keyStop, PROTO_KEY)) throw NOT_COVERED;
}

/** AttributeContext: source 1, destination 2, request 4, context_extensions 10, metadata_context 11, tls_session 12, route_metadata_context 13. */
function attributeContext(c: Cursor, end: number, p: Projection): void {
  let seen = 0;
  while (c.pos < end) {
    const t = c.tag(end);
    switch (t) {
      case 0x0a:
        seen = once(seen, 1 << 1);
        skipPeer(c, c.length(end));
        break;
      case 0x12:
        seen = once(seen, 1 << 2);
        skipPeer(c, c.length(end));
        break;
      case 0x22:
        seen = once(seen, 1 << 4);
        request(c, c.length(end), p);
        break;
      case 0x52:
        extensionEntry(c, end, p);
        break;
      case 0x5a:
      case 0x6a:
        // Metadata: only the empty one is covered.
        seen = once(seen, 1 << (t >> 3));
        if (c.length(end) !== c.pos) throw NOT_COVERED;
        break;
      case 0x62: {
        seen = once(seen, 1 << 12);
        const stop = c.length(end);
        let sni = 0;
        while (c.pos < stop) {
          if (c.tag(stop) !== 0x0a) throw NOT_COVERED;
          sni = once(sni, 1);
          c.skip(stop);
        }
        break;
      }
      default:
        throw NOT_COVERED;
    }
  }
}

/** CheckRequest: attributes 1. */
function checkRequest(c: Cursor, end: number, p: Projection): void {
  let seen = 0;
  while (c.pos < end) {
    if (c.tag(end) !== 0x0a) throw NOT_COVERED;
    seen = once(seen, 1);
    attributeContext(c, c.length(end), p);
  }
}

/**
 * A decoder of CheckRequest bytes straight into the view the decision reads, for the customer header
 * `customerHeader` (lower-cased); undefined for bytes it does not cover (decode them whole instead).
 * A header name that is not plain printable ASCII gets no projection at all.
 */
export function checkRequestProjection(customerHeader: string): ((bytes: Buffer) => CheckRequestView | undefined) | undefined {
  if (!/^[\x21-\x7e]+$/.test(customerHeader) || customerHeader !== customerHeader.toLowerCase()) return undefined;
  const header = Buffer.from(customerHeader, "latin1");
  // The customer id recurs from call to call: kept in the decoders' string table unless the header's
  // name suggests a credential, as for every other header value.
  const keep = mayKeepValueOf(customerHeader);
  return (bytes) => {
    // protobufjs reads strings of a non-Buffer Uint8Array with its own UTF-8 decoder.
    if (!Buffer.isBuffer(bytes)) return undefined;
    const p = new Projection(header, keep);
    try {
      checkRequest(new Cursor(bytes), bytes.length, p);
    } catch {
      return undefined;
    }
    return p.view();
  };
}
