// Decoder of the compact shared-data entry (proto/ENTRY_FORMAT.md, version 1). Works on a byte range of
// a buffer so the filter can decode straight from the shared-data value (after its 4-byte generation).
// Truncated or corrupt bytes give CORRUPT, never an out-of-bounds read.
import { ByteReader, MAX_SAFE_VARINT, compareBytes } from "./byteReader";

export const ENTRY_FORMAT_VERSION: u32 = 1;

export namespace FeatureKind {
  export const BOOLEAN: u8 = 1;
  export const NUMERIC: u8 = 2;
  export const METERED: u8 = 3;
  export const ENUM: u8 = 4;
}

export namespace FeatureFlag {
  export const UNLIMITED: u8 = 1;
  export const SOFT_LIMIT: u8 = 2;
  export const HAS_LIMIT: u8 = 4;
  export const HAS_REASON: u8 = 8;
  export const F64_NUMBERS: u8 = 16;
  export const HAS_PERIOD: u8 = 32;
  export const INCREMENTAL: u8 = 64;
}

export namespace ResetPeriod {
  export const DAY: u8 = 1;
  export const HOUR: u8 = 2;
  export const MONTH: u8 = 3;
  export const WEEK: u8 = 4;
  export const YEAR: u8 = 5;
}

export class Feature {
  /** Filled by decodeEntry; lookupFeature leaves it empty (the caller knows the id). */
  id: string = "";
  kind: u8 = 0;
  flags: u8 = 0;
  reason: i32 = 0;
  limit: f64 = 0;
  usage: f64 = 0;
  resetPeriod: u8 = 0;
  anchorSec: i64 = 0;
  periodEndSec: i64 = 0;
  enumValues: string[] = [];

  @inline has(flag: u8): bool { return (this.flags & flag) != 0; }
  get unlimited(): bool { return this.has(FeatureFlag.UNLIMITED); }
  get softLimit(): bool { return this.has(FeatureFlag.SOFT_LIMIT); }
  get hasLimit(): bool { return this.has(FeatureFlag.HAS_LIMIT); }
  get hasPeriod(): bool { return this.has(FeatureFlag.HAS_PERIOD); }
}

export class Entry {
  customerReason: i32 = 0;
  features: Feature[] = [];
}

export enum LookupStatus { OK, CORRUPT }

export class FeatureLookup {
  status: LookupStatus = LookupStatus.OK;
  customerReason: i32 = 0;
  feature: Feature | null = null;
  get corrupt(): bool { return this.status == LookupStatus.CORRUPT; }
}

function readNumber(reader: ByteReader, isF64: bool): f64 {
  if (isF64) return reader.f64le();
  return <f64>reader.varintUpTo(MAX_SAFE_VARINT);
}

/**
 * Reads one feature after its id. With `into` null the fields are only skipped (no allocation); enum
 * values are decoded only when `into` is given and `enumValues` is set.
 */
function readFeatureBody(reader: ByteReader, into: Feature | null, enumValues: bool): bool {
  const kind = <u8>reader.u8();
  const flags = <u8>reader.u8();
  if (reader.failed || kind < FeatureKind.BOOLEAN || kind > FeatureKind.ENUM) return false;
  const isF64 = (flags & FeatureFlag.F64_NUMBERS) != 0;
  let reason: i32 = 0;
  if ((flags & FeatureFlag.HAS_REASON) != 0) reason = <i32>reader.u8();
  let limit: f64 = 0;
  if ((flags & FeatureFlag.HAS_LIMIT) != 0) limit = readNumber(reader, isF64);
  let usage: f64 = 0;
  if (kind == FeatureKind.METERED) usage = readNumber(reader, isF64);
  let period: u8 = 0;
  let anchor: i64 = 0;
  let periodEnd: i64 = 0;
  if ((flags & FeatureFlag.HAS_PERIOD) != 0) {
    period = <u8>reader.u8();
    anchor = <i64>reader.varintUpTo(MAX_SAFE_VARINT);
    periodEnd = <i64>reader.varintUpTo(MAX_SAFE_VARINT);
    if (period < ResetPeriod.DAY || period > ResetPeriod.YEAR) return false;
  }
  if (reader.failed) return false;
  if (into !== null) {
    into.kind = kind;
    into.flags = flags;
    into.reason = reason;
    into.limit = limit;
    into.usage = usage;
    into.resetPeriod = period;
    into.anchorSec = anchor;
    into.periodEndSec = periodEnd;
  }
  if (kind == FeatureKind.ENUM) {
    const count = reader.varint();
    if (reader.failed || count > <u64>reader.remaining) return false;
    for (let i: u64 = 0; i < count; i++) {
      const length = reader.varint();
      const start = reader.skip(length);
      if (reader.failed) return false;
      if (into !== null && enumValues) into.enumValues.push(reader.utf8(start, <i32>length));
    }
  }
  return !reader.failed;
}

/** Reads the entry header; returns the feature count, or -1 when corrupt. */
function readHeader(reader: ByteReader, lookup: FeatureLookup): i64 {
  const format = reader.u8();
  const flags = reader.u8();
  if (reader.failed || format != ENTRY_FORMAT_VERSION) return -1;
  if ((flags & 1) != 0) {
    lookup.customerReason = <i32>reader.u8();
    if (lookup.customerReason == 0) lookup.customerReason = 1; // a set flag with no reason still denies
  }
  const count = reader.varint();
  // Every feature needs at least 3 bytes (id length, kind, flags).
  if (reader.failed || count > <u64>(reader.remaining / 3)) return -1;
  return <i64>count;
}

/** Finds one feature by its UTF-8 id in the entry at [start, end) of `buffer`. */
export function lookupFeature(buffer: ArrayBuffer, start: i32, end: i32, featureId: ArrayBuffer): FeatureLookup {
  const lookup = new FeatureLookup();
  return lookupFeatureInto(lookup, new ByteReader(buffer, start, end), new Feature(), featureId, true);
}

/**
 * The allocation-free lookup of the filter's hit path: `lookup`, `reader` (already reset to the entry's
 * range) and `feature` are the caller's reusable objects; `lookup.feature` is `feature` when found. With
 * `enumValues` false an ENUM feature's values are skipped (the filter never requests values).
 */
export function lookupFeatureInto(lookup: FeatureLookup, reader: ByteReader, feature: Feature, featureId: ArrayBuffer, enumValues: bool): FeatureLookup {
  lookup.status = LookupStatus.OK;
  lookup.customerReason = 0;
  lookup.feature = null;
  const count = readHeader(reader, lookup);
  if (count < 0) { lookup.status = LookupStatus.CORRUPT; return lookup; }
  const idPtr = changetype<usize>(featureId);
  const idLength = featureId.byteLength;
  for (let i: i64 = 0; i < count; i++) {
    const length = reader.varint();
    const offset = reader.skip(length);
    if (reader.failed) { lookup.status = LookupStatus.CORRUPT; return lookup; }
    const order = compareBytes(reader.ptrAt(offset), <i32>length, idPtr, idLength);
    if (order == 0) {
      // The id stays undecoded: the caller already has it, and the hit path should not allocate it.
      if (feature.enumValues.length > 0) feature.enumValues.length = 0;
      if (!readFeatureBody(reader, feature, enumValues)) { lookup.status = LookupStatus.CORRUPT; return lookup; }
      lookup.feature = feature;
      return lookup;
    }
    // Features are sorted by id: once past the wanted id it cannot follow.
    if (order > 0) return lookup;
    if (!readFeatureBody(reader, null, false)) { lookup.status = LookupStatus.CORRUPT; return lookup; }
  }
  return lookup;
}

/** Decodes the whole entry; null when any part is truncated or corrupt. */
export function decodeEntry(buffer: ArrayBuffer, start: i32, end: i32): Entry | null {
  const header = new FeatureLookup();
  const reader = new ByteReader(buffer, start, end);
  const count = readHeader(reader, header);
  if (count < 0) return null;
  const entry = new Entry();
  entry.customerReason = header.customerReason;
  for (let i: i64 = 0; i < count; i++) {
    const length = reader.varint();
    const offset = reader.skip(length);
    if (reader.failed) return null;
    const feature = new Feature();
    feature.id = reader.utf8(offset, <i32>length);
    if (!readFeatureBody(reader, feature, true)) return null;
    entry.features.push(feature);
  }
  if (!reader.atEnd) return null;
  return entry;
}
