// A small encoder of the shared-data entry (proto/ENTRY_FORMAT.md, version 1), written from the spec so
// the filter tests do not depend on the control plane's codec.

export const Kind = { BOOLEAN: 1, NUMERIC: 2, METERED: 3, ENUM: 4 } as const;
export const Period = { DAY: 1, HOUR: 2, MONTH: 3, WEEK: 4, YEAR: 5 } as const;

export interface FeatureSpec {
  id: string;
  kind: number;
  unlimited?: boolean;
  softLimit?: boolean;
  limit?: number;
  reason?: number;
  /** Forces f64 numbers even for whole values. */
  f64?: boolean;
  usage?: number;
  period?: { reset: number; anchorSec: number; endSec: number };
  incremental?: boolean;
  values?: string[];
}

export interface EntrySpec {
  reason?: number;
  features: FeatureSpec[];
}

export function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function str(value: string): number[] {
  const bytes = [...Buffer.from(value, "utf8")];
  return [...varint(bytes.length), ...bytes];
}

function isWhole(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 2 ** 53;
}

export function encodeEntry(spec: EntrySpec): Uint8Array {
  const out: number[] = [1, spec.reason !== undefined ? 1 : 0];
  if (spec.reason !== undefined) out.push(spec.reason);
  const features = [...spec.features].sort((a, b) => Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)));
  out.push(...varint(features.length));
  for (const f of features) {
    const numbers = [f.limit, f.kind === Kind.METERED ? (f.usage ?? 0) : undefined].filter((n): n is number => n !== undefined);
    const asF64 = f.f64 === true || numbers.some((n) => !isWhole(n));
    const flags =
      (f.unlimited ? 1 : 0) | (f.softLimit ? 2 : 0) | (f.limit !== undefined ? 4 : 0) | (f.reason !== undefined ? 8 : 0) |
      (asF64 ? 16 : 0) | (f.period ? 32 : 0) | (f.incremental ? 64 : 0);
    const num = (n: number): number[] => {
      if (!asF64) return varint(n);
      const b = Buffer.alloc(8);
      b.writeDoubleLE(n);
      return [...b];
    };
    out.push(...str(f.id), f.kind, flags);
    if (f.reason !== undefined) out.push(f.reason);
    if (f.limit !== undefined) out.push(...num(f.limit));
    if (f.kind === Kind.METERED) out.push(...num(f.usage ?? 0));
    if (f.period) out.push(f.period.reset, ...varint(f.period.anchorSec), ...varint(f.period.endSec));
    if (f.kind === Kind.ENUM) {
      const values = f.values ?? [];
      out.push(...varint(values.length));
      for (const v of values) out.push(...str(v));
    }
  }
  return Uint8Array.from(out);
}

/** The shared-data value: u32 LE generation, then the entry. */
export function withGeneration(generation: number, entry: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + entry.length);
  new DataView(out.buffer).setUint32(0, generation, true);
  out.set(entry, 4);
  return out;
}

export function u32le(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

export function hex(bytes: Uint8Array | number[]): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes)).toString("hex");
}
