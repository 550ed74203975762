// Parses and validates the offline entitlements file (YAML, or JSON, which is YAML 1.2) into the
// control plane's model. Every problem names its path in the file, and its line when known, so a
// typo is found without guessing. The format is documented in ./README.md.
import { LineCounter, isNode, isScalar, parseDocument, visit, type Document } from "yaml";
import { currentUsagePeriod } from "../../evaluation/usagePeriod.ts";
import {
  FEATURE_TYPES,
  METER_TYPES,
  RESET_PERIODS,
  isAccessDeniedReason,
  type AccessDeniedReason,
  type CustomerEntitlements,
  type FeatureEntitlement,
  type FeatureType,
  type MeterType,
  type ResetPeriod,
} from "../../model/entitlements.ts";

export interface FileIssue {
  /** Dotted path in the file (`customers.acme.entitlements.seats.usageLimit`); empty for the whole file. */
  path: string;
  /** 1-based line, when the parser can tell. */
  line?: number;
  message: string;
}

export type ParseResult = { ok: true; customers: CustomerEntitlements[] } | { ok: false; issues: FileIssue[] };

export interface ParseOptions {
  /** Used to compute the current usage period when the file gives only an anchor. */
  nowMs: number;
}

/** At most this many issues are reported; after a bad indent everything below tends to be wrong. */
const MAX_ISSUES = 20;

const CUSTOMER_KEYS = ["accessDeniedReason", "entitlements", "resources"] as const;
const RESOURCE_KEYS = ["accessDeniedReason", "entitlements"] as const;
const ENTITLEMENT_KEYS = [
  "featureType",
  "meterType",
  "usageLimit",
  "hasUnlimitedUsage",
  "hasSoftLimit",
  "currentUsage",
  "enumValues",
  "resetPeriod",
  "usagePeriodAnchor",
  "usagePeriodStart",
  "usagePeriodEnd",
  "accessDeniedReason",
] as const;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** Formats an issue the way logs show it: `file:line: path: message`. */
export function formatIssue(issue: FileIssue, fileName?: string): string {
  const where = [fileName, issue.line].filter((p) => p !== undefined).join(":");
  const what = issue.path ? `${issue.path}: ${issue.message}` : issue.message;
  return where ? `${where}: ${what}` : what;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === "object") return "a map";
  return JSON.stringify(value);
}

type Plain = Record<string, unknown>;

function isMap(value: unknown): value is Plain {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date);
}

class Validator {
  readonly issues: FileIssue[] = [];

  /** Without a document (the JSON fast path) issues carry no line; that path re-parses to report them. */
  constructor(
    private readonly nowMs: number,
    private readonly doc?: Document,
    private readonly lines?: LineCounter,
  ) {}

  fail(path: readonly string[], message: string): void {
    if (this.issues.length >= MAX_ISSUES) return;
    const issue: FileIssue = { path: path.join("."), message };
    const line = this.lineOf(path);
    if (line !== undefined) issue.line = line;
    this.issues.push(issue);
  }

  private lineOf(path: readonly string[]): number | undefined {
    if (this.doc === undefined || this.lines === undefined) return undefined;
    // Walk up until some node has a position: a missing key points at its parent map.
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return this.lines.linePos(node.range[0]).line;
    }
    return undefined;
  }

  private checkKeys(path: readonly string[], map: Plain, allowed: readonly string[]): void {
    for (const key of Object.keys(map)) {
      if (!allowed.includes(key)) this.fail([...path, key], `unknown key (expected one of ${allowed.join(", ")})`);
    }
  }

  private id(path: readonly string[], id: string, what: string): boolean {
    if (id.length === 0) {
      this.fail(path, `${what} must not be empty`);
      return false;
    }
    if (id.includes("\u0000")) {
      this.fail(path, `${what} must not contain NUL characters`);
      return false;
    }
    return true;
  }

  private boolean(path: readonly string[], value: unknown): boolean {
    if (value === undefined) return false;
    if (typeof value === "boolean") return value;
    this.fail(path, `must be true or false, got ${describe(value)}`);
    return false;
  }

  private number(path: readonly string[], value: unknown, min: number | undefined): number | undefined {
    if (typeof value === "number" && Number.isFinite(value) && (min === undefined || value >= min)) return value;
    this.fail(path, `must be a number${min === undefined ? "" : ` >= ${min}`}, got ${describe(value)}`);
    return undefined;
  }

  private oneOf<T extends string>(path: readonly string[], value: unknown, allowed: readonly T[]): T | undefined {
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    this.fail(path, `must be one of ${allowed.join(", ")}, got ${describe(value)}`);
    return undefined;
  }

  private reason(path: readonly string[], value: unknown): AccessDeniedReason | undefined {
    if (isAccessDeniedReason(value)) return value;
    this.fail(path, `must be a Stigg access-denied reason (CustomerIsArchived, Revoked, ...), got ${describe(value)}`);
    return undefined;
  }

  private date(path: readonly string[], value: unknown): number | undefined {
    if (value instanceof Date && !Number.isNaN(value.getTime())) return value.getTime();
    if (typeof value === "string" && ISO_DATE.test(value)) {
      // A date-time without an offset is read as UTC, never as the machine's local time.
      const hasZone = /(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$/.test(value) && value.length > 10;
      const ms = Date.parse(hasZone || value.length === 10 ? value : `${value}Z`);
      if (!Number.isNaN(ms)) return ms;
    }
    this.fail(path, `must be an ISO-8601 date such as 2026-01-01T00:00:00Z, got ${describe(value)}`);
    return undefined;
  }

  private onlyFor(path: readonly string[], raw: Plain, keys: readonly string[], allowedWhen: boolean, what: string): void {
    if (allowedWhen) return;
    for (const key of keys) if (raw[key] !== undefined) this.fail([...path, key], `only allowed for ${what}`);
  }

  entitlement(path: readonly string[], featureId: string, raw: unknown): FeatureEntitlement | undefined {
    if (!this.id(path, featureId, "feature id")) return undefined;
    if (!isMap(raw)) {
      this.fail(path, `must be a map with at least featureType, got ${describe(raw)}`);
      return undefined;
    }
    this.checkKeys(path, raw, ENTITLEMENT_KEYS);
    const at = (key: string): string[] => [...path, key];
    const featureType: FeatureType | undefined =
      raw.featureType === undefined
        ? (this.fail(at("featureType"), `is required (${FEATURE_TYPES.join(", ")})`), undefined)
        : this.oneOf(at("featureType"), raw.featureType, FEATURE_TYPES);
    if (featureType === undefined) return undefined;

    const e: FeatureEntitlement = {
      featureId,
      featureType,
      hasUnlimitedUsage: this.boolean(at("hasUnlimitedUsage"), raw.hasUnlimitedUsage),
      hasSoftLimit: this.boolean(at("hasSoftLimit"), raw.hasSoftLimit),
      currentUsage: 0,
    };
    const isNumber = featureType === "NUMBER";
    this.onlyFor(path, raw, ["meterType", "usageLimit"], isNumber, "NUMBER features");
    this.onlyFor(path, raw, ["enumValues"], featureType === "ENUM", "ENUM features");
    if (isNumber && raw.meterType !== undefined) {
      const meterType: MeterType | undefined = this.oneOf(at("meterType"), raw.meterType, METER_TYPES);
      if (meterType !== undefined) e.meterType = meterType;
    }
    const metered = isNumber && e.meterType !== "None";
    this.onlyFor(
      path,
      raw,
      ["currentUsage", "resetPeriod", "usagePeriodAnchor", "usagePeriodStart", "usagePeriodEnd"],
      metered,
      "metered NUMBER features (meterType Fluctuating or Incremental)",
    );
    if (isNumber && raw.usageLimit !== undefined) {
      if (e.hasUnlimitedUsage) this.fail(at("usageLimit"), "must be omitted when hasUnlimitedUsage is true");
      const limit = this.number(at("usageLimit"), raw.usageLimit, 0);
      if (limit !== undefined) e.usageLimit = limit;
    }
    if (featureType === "ENUM") {
      const values = raw.enumValues ?? [];
      if (!Array.isArray(values)) {
        this.fail(at("enumValues"), `must be a list of strings, got ${describe(values)}`);
      } else {
        e.enumValues = [];
        values.forEach((v: unknown, i) => {
          if (typeof v === "string" && v.length > 0) e.enumValues!.push(v);
          else this.fail([...at("enumValues"), String(i)], `must be a non-empty string, got ${describe(v)}`);
        });
      }
    }
    if (raw.accessDeniedReason !== undefined) {
      const reason = this.reason(at("accessDeniedReason"), raw.accessDeniedReason);
      if (reason !== undefined) e.accessDeniedReason = reason;
    }
    if (metered) this.meteredFields(path, raw, e);
    return e;
  }

  private meteredFields(path: readonly string[], raw: Plain, e: FeatureEntitlement): void {
    const at = (key: string): string[] => [...path, key];
    if (raw.currentUsage !== undefined) {
      const usage = this.number(at("currentUsage"), raw.currentUsage, 0);
      if (usage !== undefined) e.currentUsage = usage;
    }
    if (raw.resetPeriod !== undefined) {
      const period: ResetPeriod | undefined = this.oneOf(at("resetPeriod"), raw.resetPeriod, RESET_PERIODS);
      if (period !== undefined) e.resetPeriod = period;
    }
    for (const key of ["usagePeriodAnchor", "usagePeriodStart", "usagePeriodEnd"] as const) {
      if (raw[key] === undefined) continue;
      const ms = this.date(at(key), raw[key]);
      if (ms !== undefined) e[key] = ms;
    }
    if (e.usagePeriodAnchor !== undefined && e.resetPeriod === undefined && raw.resetPeriod === undefined) {
      this.fail(at("resetPeriod"), "is required with usagePeriodAnchor");
    }
    if (e.resetPeriod !== undefined && e.usagePeriodAnchor !== undefined && e.usagePeriodEnd === undefined) {
      const period = currentUsagePeriod(e.usagePeriodAnchor, e.resetPeriod, this.nowMs);
      e.usagePeriodStart ??= period.startMs;
      e.usagePeriodEnd = period.endMs;
    }
  }

  entitlements(path: readonly string[], raw: unknown): FeatureEntitlement[] {
    if (raw === undefined || raw === null) return [];
    if (!isMap(raw)) {
      this.fail(path, `must be a map of feature id to entitlement, got ${describe(raw)}`);
      return [];
    }
    const out: FeatureEntitlement[] = [];
    for (const [featureId, value] of Object.entries(raw)) {
      const e = this.entitlement([...path, featureId], featureId, value);
      if (e) out.push(e);
    }
    return out;
  }

  customer(path: readonly string[], customerId: string, raw: unknown, out: CustomerEntitlements[]): void {
    if (!this.id(path, customerId, "customer id")) return;
    if (raw === null || raw === undefined) raw = {};
    if (!isMap(raw)) {
      this.fail(path, `must be a map with entitlements, got ${describe(raw)}`);
      return;
    }
    this.checkKeys(path, raw, CUSTOMER_KEYS);
    const customer: CustomerEntitlements = {
      customerId,
      entitlements: this.entitlements([...path, "entitlements"], raw.entitlements),
    };
    if (raw.accessDeniedReason !== undefined) {
      const reason = this.reason([...path, "accessDeniedReason"], raw.accessDeniedReason);
      if (reason !== undefined) customer.accessDeniedReason = reason;
    }
    out.push(customer);
    if (raw.resources === undefined || raw.resources === null) return;
    const resourcesPath = [...path, "resources"];
    if (!isMap(raw.resources)) {
      this.fail(resourcesPath, `must be a map of resource id to entitlements, got ${describe(raw.resources)}`);
      return;
    }
    for (const [resourceId, rawResource] of Object.entries(raw.resources)) {
      const resourcePath = [...resourcesPath, resourceId];
      if (!this.id(resourcePath, resourceId, "resource id")) continue;
      const resource: unknown = rawResource ?? {};
      if (!isMap(resource)) {
        this.fail(resourcePath, `must be a map with entitlements, got ${describe(resource)}`);
        continue;
      }
      this.checkKeys(resourcePath, resource, RESOURCE_KEYS);
      const entry: CustomerEntitlements = {
        customerId,
        resourceId,
        entitlements: this.entitlements([...resourcePath, "entitlements"], resource.entitlements),
      };
      if (resource.accessDeniedReason !== undefined) {
        const reason = this.reason([...resourcePath, "accessDeniedReason"], resource.accessDeniedReason);
        if (reason !== undefined) entry.accessDeniedReason = reason;
      }
      out.push(entry);
    }
  }
}

/** Parses the text of an entitlements file. Never throws on bad input. */
export function parseEntitlementsText(text: string, options: ParseOptions): ParseResult {
  return parseJsonFast(text, options) ?? parseYaml(text, options);
}

/**
 * A valid JSON file is read with JSON.parse, ~100× faster than the YAML document model and without its
 * memory (a 10,000-customer file: ~50 ms instead of ~6 s and ~700 MB). Anything the fast path cannot
 * vouch for — not JSON, a duplicate key (JSON.parse keeps the last silently, YAML refuses), or any
 * validation issue — goes through the YAML parser, which reports every problem with its line.
 */
function parseJsonFast(text: string, options: ParseOptions): ParseResult | undefined {
  if (!/^\uFEFF?\s*\{/.test(text)) return undefined;
  let root: unknown;
  try {
    root = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return undefined;
  }
  if (hasDuplicateJsonKey(text)) return undefined;
  const v = new Validator(options.nowMs);
  const customers = validateRoot(root, v);
  return v.issues.length === 0 && customers !== undefined ? { ok: true, customers } : undefined;
}

/** True when some JSON object in `text` (already known to be valid JSON) has the same key twice. */
export function hasDuplicateJsonKey(text: string): boolean {
  // One Set of keys per open object, undefined for an open array.
  const open: (Set<string> | undefined)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) open.push(new Set());
    else if (c === 0x5b /* [ */) open.push(undefined);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) open.pop();
    else if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      const keys = open.at(-1);
      if (keys === undefined) continue;
      // A string in an object is a key when a colon follows it.
      let j = i + 1;
      while (j < text.length && (text.charCodeAt(j) === 0x20 || text.charCodeAt(j) === 0x0a || text.charCodeAt(j) === 0x0d || text.charCodeAt(j) === 0x09)) j++;
      if (text.charCodeAt(j) !== 0x3a /* : */) continue;
      const raw = text.slice(start, i + 1);
      const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      if (keys.has(key)) return true;
      keys.add(key);
    }
  }
  return false;
}

function parseYaml(text: string, options: ParseOptions): ParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.slice(0, MAX_ISSUES).map((e) => {
        const firstLine = e.message.split("\n")[0] ?? e.message;
        const issue: FileIssue = { path: "", message: firstLine.replace(/ at line \d+, column \d+:?$/, "") };
        const line = e.linePos?.[0]?.line;
        if (line !== undefined) issue.line = line;
        return issue;
      }),
    };
  }
  const root: unknown = doc.toJS({ maxAliasCount: 100 });
  if (root === null || root === undefined) {
    // An empty file is far more likely a half-written save than an intent to remove everyone.
    return { ok: false, issues: [{ path: "", message: "the file is empty (write `customers: {}` to have no customers)" }] };
  }
  // Ids are map keys; YAML reads `007:` as the number 7 and `1e3:` as 1000, which would silently
  // rename a customer. Such keys must be quoted.
  const mangled: FileIssue[] = [];
  visit(doc, {
    Pair(_key, pair) {
      const key = pair.key;
      if (!isScalar(key) || typeof key.value === "string" || key.source === undefined) return;
      if (String(key.value) === key.source) return;
      const issue: FileIssue = { path: "", message: `key ${key.source} is read as ${String(key.value)}; quote it ("${key.source}")` };
      if (key.range) issue.line = lines.linePos(key.range[0]).line;
      mangled.push(issue);
    },
  });
  if (mangled.length > 0) return { ok: false, issues: mangled.slice(0, MAX_ISSUES) };
  const v = new Validator(options.nowMs, doc, lines);
  const customers = validateRoot(root, v);
  return v.issues.length > 0 || customers === undefined ? { ok: false, issues: v.issues } : { ok: true, customers };
}

/** Validates the parsed root into customers; problems go to `v` (undefined when the root is unusable). */
function validateRoot(root: unknown, v: Validator): CustomerEntitlements[] | undefined {
  if (!isMap(root)) {
    v.fail([], `must be a map with a customers key, got ${describe(root)}`);
    return undefined;
  }
  for (const key of Object.keys(root)) if (key !== "customers") v.fail([key], "unknown key (expected customers)");
  const customers: CustomerEntitlements[] = [];
  if (root.customers === undefined) v.fail(["customers"], "is required");
  else if (root.customers !== null && !isMap(root.customers)) {
    v.fail(["customers"], `must be a map of customer id to entitlements, got ${describe(root.customers)}`);
  } else {
    for (const [customerId, raw] of Object.entries(root.customers ?? {})) {
      v.customer(["customers", customerId], customerId, raw, customers);
    }
  }
  return customers;
}
