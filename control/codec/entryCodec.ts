// The compact shared-data entry (proto/ENTRY_FORMAT.md, version 1). The control plane encodes each
// customer once; the filter stores the bytes as they are and decodes them on every request.
import {
  ACCESS_DENIED_REASONS,
  isAccessDeniedReason,
  type AccessDeniedReason,
  type CustomerEntitlements,
  type FeatureEntitlement,
  type ResetPeriod,
} from "../model/entitlements.ts";

export const ENTRY_FORMAT_VERSION = 1;

const KIND_BOOLEAN = 1;
const KIND_NUMERIC = 2;
const KIND_METERED = 3;
const KIND_ENUM = 4;

const ENTRY_HAS_REASON = 1 << 0;

const FEATURE_UNLIMITED = 1 << 0;
const FEATURE_SOFT_LIMIT = 1 << 1;
const FEATURE_HAS_LIMIT = 1 << 2;
const FEATURE_HAS_REASON = 1 << 3;
const FEATURE_F64 = 1 << 4;
const FEATURE_HAS_PERIOD = 1 << 5;
const FEATURE_INCREMENTAL = 1 << 6;

const MAX_VARINT = 2 ** 53;

/** Proto `EntitlementResetPeriod` numbers, which the format uses (DAY=1 ... YEAR=5). */
const RESET_PERIOD_NUMBERS: Record<ResetPeriod, number> = { DAY: 1, HOUR: 2, MONTH: 3, WEEK: 4, YEAR: 5 };
const RESET_PERIOD_BY_NUMBER = new Map<number, ResetPeriod>(
  Object.entries(RESET_PERIOD_NUMBERS).map(([name, n]) => [n, name as ResetPeriod]),
);
const REASON_BY_NUMBER = new Map<number, AccessDeniedReason>(
  Object.entries(ACCESS_DENIED_REASONS).map(([name, n]) => [n, name as AccessDeniedReason]),
);

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

export class EntryDecodeError extends Error {
  override name = "EntryDecodeError";
}

class ByteWriter {
  private buffer = new Uint8Array(128);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  u8(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value & 0xff;
  }

  /** Unsigned LEB128 up to 2^53, with division instead of bit shifts (which are 32-bit in JS). */
  varint(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT) {
      throw new RangeError(`varint out of range: ${value}`);
    }
    let rest = value;
    while (rest >= 0x80) {
      this.u8((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.u8(rest);
  }

  f64(value: number): void {
    this.reserve(8);
    new DataView(this.buffer.buffer).setFloat64(this.length, value, true);
    this.length += 8;
  }

  bytes(value: Uint8Array): void {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  str(value: string): void {
    const encoded = utf8.encode(value);
    this.varint(encoded.length);
    this.bytes(encoded);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

class ByteReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get atEnd(): boolean {
    return this.offset === this.bytes.length;
  }

  get position(): number {
    return this.offset;
  }

  private need(n: number, what: string): void {
    if (this.offset + n > this.bytes.length) {
      throw new EntryDecodeError(`truncated entry: ${what} at byte ${this.offset} needs ${n} byte(s)`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.offset++]!;
  }

  varint(what: string): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8(what);
      value += (byte & 0x7f) * scale;
      if (value > MAX_VARINT) throw new EntryDecodeError(`${what}: varint exceeds 2^53`);
      if ((byte & 0x80) === 0) return value;
      scale *= 0x80;
    }
    throw new EntryDecodeError(`${what}: varint longer than 10 bytes`);
  }

  f64(what: string): number {
    this.need(8, what);
    const value = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return value;
  }

  str(what: string): string {
    const length = this.varint(`${what} length`);
    this.need(length, what);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    try {
      return utf8Strict.decode(slice);
    } catch {
      throw new EntryDecodeError(`${what}: invalid UTF-8`);
    }
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function featureKind(e: FeatureEntitlement): number {
  switch (e.featureType) {
    case "BOOLEAN":
      return KIND_BOOLEAN;
    case "ENUM":
      return KIND_ENUM;
    case "NUMBER":
      return e.meterType === "None" ? KIND_NUMERIC : KIND_METERED;
  }
}

function isWholeVarintNumber(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_VARINT;
}

function toUnixSeconds(ms: number): number {
  // The format has no negative or fractional dates; pre-1970 anchors are not a real Stigg case.
  return Math.min(MAX_VARINT, Math.max(0, Math.floor(ms / 1000)));
}

function writeFeature(w: ByteWriter, id: Uint8Array, e: FeatureEntitlement): void {
  const kind = featureKind(e);
  const numeric = kind === KIND_NUMERIC || kind === KIND_METERED;
  const limit = numeric ? e.usageLimit : undefined;
  const usage = kind === KIND_METERED ? e.currentUsage : undefined;
  const anchorMs = e.usagePeriodAnchor ?? e.usagePeriodStart;
  const hasPeriod =
    kind === KIND_METERED && e.resetPeriod !== undefined && anchorMs !== undefined && e.usagePeriodEnd !== undefined;
  const numbers = [limit, usage].filter((n): n is number => n !== undefined);
  const asF64 = !numbers.every(isWholeVarintNumber);

  let flags = 0;
  if (e.hasUnlimitedUsage) flags |= FEATURE_UNLIMITED;
  if (e.hasSoftLimit) flags |= FEATURE_SOFT_LIMIT;
  if (limit !== undefined) flags |= FEATURE_HAS_LIMIT;
  if (e.accessDeniedReason !== undefined) flags |= FEATURE_HAS_REASON;
  if (asF64) flags |= FEATURE_F64;
  if (hasPeriod) flags |= FEATURE_HAS_PERIOD;
  if (kind === KIND_METERED && e.meterType === "Incremental") flags |= FEATURE_INCREMENTAL;

  const num = (n: number): void => (asF64 ? w.f64(n) : w.varint(n));

  w.varint(id.length);
  w.bytes(id);
  w.u8(kind);
  w.u8(flags);
  if (e.accessDeniedReason !== undefined) w.u8(ACCESS_DENIED_REASONS[e.accessDeniedReason]);
  if (limit !== undefined) num(limit);
  if (usage !== undefined) num(usage);
  if (hasPeriod) {
    w.u8(RESET_PERIOD_NUMBERS[e.resetPeriod!]);
    w.varint(toUnixSeconds(anchorMs!));
    w.varint(toUnixSeconds(e.usagePeriodEnd!));
  }
  if (kind === KIND_ENUM) {
    const values = e.enumValues ?? [];
    w.varint(values.length);
    for (const v of values) w.str(v);
  }
}

/**
 * Encodes one customer (or customer + resource). The usage period is written only for a metered
 * feature that has a reset period, an anchor (or, lacking one, a period start) and a period end.
 */
export function encodeEntry(c: CustomerEntitlements): Uint8Array {
  const w = new ByteWriter();
  w.u8(ENTRY_FORMAT_VERSION);
  if (c.accessDeniedReason !== undefined) {
    w.u8(ENTRY_HAS_REASON);
    w.u8(ACCESS_DENIED_REASONS[c.accessDeniedReason]);
  } else {
    w.u8(0);
  }
  const features = c.entitlements
    .map((e) => ({ id: utf8.encode(e.featureId), e }))
    .sort((a, b) => compareBytes(a.id, b.id));
  w.varint(features.length);
  for (const { id, e } of features) writeFeature(w, id, e);
  return w.finish();
}

function reasonFrom(n: number, what: string): AccessDeniedReason {
  const reason = REASON_BY_NUMBER.get(n);
  if (reason === undefined || !isAccessDeniedReason(reason)) {
    throw new EntryDecodeError(`${what}: unknown access-denied reason ${n}`);
  }
  return reason;
}

function readFeature(r: ByteReader, index: number): FeatureEntitlement {
  const at = `feature[${index}]`;
  const featureId = r.str(`${at}.id`);
  const kind = r.u8(`${at}.kind`);
  if (kind < KIND_BOOLEAN || kind > KIND_ENUM) throw new EntryDecodeError(`${at}.kind: unknown kind ${kind}`);
  const flags = r.u8(`${at}.flags`);
  if (flags & 0x80) throw new EntryDecodeError(`${at}.flags: unknown bit 7 set`);
  const num = (what: string): number => (flags & FEATURE_F64 ? r.f64(what) : r.varint(what));

  const e: FeatureEntitlement = {
    featureId,
    featureType: kind === KIND_BOOLEAN ? "BOOLEAN" : kind === KIND_ENUM ? "ENUM" : "NUMBER",
    hasUnlimitedUsage: (flags & FEATURE_UNLIMITED) !== 0,
    hasSoftLimit: (flags & FEATURE_SOFT_LIMIT) !== 0,
    currentUsage: 0,
  };
  if (kind === KIND_NUMERIC) e.meterType = "None";
  // The format keeps only "incremental or not"; a NUMBER feature sent without a meter type comes
  // back as Fluctuating, which the evaluation treats the same way.
  if (kind === KIND_METERED) e.meterType = flags & FEATURE_INCREMENTAL ? "Incremental" : "Fluctuating";
  if (flags & FEATURE_HAS_REASON) e.accessDeniedReason = reasonFrom(r.u8(`${at}.reason`), `${at}.reason`);
  if (flags & FEATURE_HAS_LIMIT) e.usageLimit = num(`${at}.limit`);
  if (kind === KIND_METERED) e.currentUsage = num(`${at}.usage`);
  if (flags & FEATURE_HAS_PERIOD) {
    const periodNumber = r.u8(`${at}.resetPeriod`);
    const resetPeriod = RESET_PERIOD_BY_NUMBER.get(periodNumber);
    if (resetPeriod === undefined) throw new EntryDecodeError(`${at}.resetPeriod: unknown period ${periodNumber}`);
    e.resetPeriod = resetPeriod;
    e.usagePeriodAnchor = r.varint(`${at}.anchor`) * 1000;
    e.usagePeriodEnd = r.varint(`${at}.periodEnd`) * 1000;
  }
  if (kind === KIND_ENUM) {
    const count = r.varint(`${at}.values count`);
    const values: string[] = [];
    // Each value takes at least one byte, so a count larger than what is left is corrupt; reading
    // stops at the first missing byte anyway, so the loop is bounded by the input length.
    for (let i = 0; i < count; i++) values.push(r.str(`${at}.values[${i}]`));
    e.enumValues = values;
  }
  return e;
}

/**
 * Decodes an entry (tests and tooling). Throws EntryDecodeError on truncated, corrupt or trailing
 * input; never reads past the end, so corrupt counts cannot make it loop for long.
 */
export function decodeEntry(bytes: Uint8Array, customerId = "", resourceId?: string): CustomerEntitlements {
  const r = new ByteReader(bytes);
  const format = r.u8("format");
  if (format !== ENTRY_FORMAT_VERSION) throw new EntryDecodeError(`unsupported entry format ${format}`);
  const flags = r.u8("flags");
  if (flags & ~ENTRY_HAS_REASON) throw new EntryDecodeError(`flags: unknown bits 0x${flags.toString(16)}`);
  const c: CustomerEntitlements = { customerId, entitlements: [] };
  if (resourceId) c.resourceId = resourceId;
  if (flags & ENTRY_HAS_REASON) c.accessDeniedReason = reasonFrom(r.u8("reason"), "reason");
  const count = r.varint("count");
  if (count > bytes.length) throw new EntryDecodeError(`count ${count} exceeds the entry size`);
  for (let i = 0; i < count; i++) c.entitlements.push(readFeature(r, i));
  if (!r.atEnd) throw new EntryDecodeError(`trailing bytes after the last feature at byte ${r.position}`);
  return c;
}
