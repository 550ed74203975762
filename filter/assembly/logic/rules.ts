// Route rules: which feature a request needs. A rule matches the path (prefix, exact, or a simple
// segment pattern) of `:path` without its query string, optionally the method and the host; the first
// matching rule wins. Matching works on the raw header bytes and allocates nothing.
import { startsWithBytes } from "./byteReader";

export namespace PathMatch {
  export const PREFIX: u8 = 0;
  export const EXACT: u8 = 1;
  export const PATTERN: u8 = 2;
}

export class GateRule {
  pathMatch: u8 = PathMatch.PREFIX;
  /** The configured prefix, exact path or pattern. */
  pathPrefix: string = "";
  pathPrefixBytes: ArrayBuffer = new ArrayBuffer(0);
  /** Upper-case method names; empty = any method. */
  methods: ArrayBuffer[] = [];
  /** Lower-case host; empty = any. With `hostSuffix` it holds ".suffix" (from "*.suffix"). */
  hostBytes: ArrayBuffer = new ArrayBuffer(0);
  hostSuffix: bool = false;
  feature: string = "";
  featureBytes: ArrayBuffer = new ArrayBuffer(0);
  requestedUsage: f64 = 0;
}

/** Length of the path part of a request target: up to the first '?' or '#'. */
export function pathLength(ptr: usize, length: i32): i32 {
  for (let i = 0; i < length; i++) {
    const c = load<u8>(ptr + <usize>i);
    if (c == 0x3f || c == 0x23) return i;
  }
  return length;
}

/** Checks a pattern for the config reader: starts with "/", `**` only as the last segment. */
export function patternProblem(pattern: string): string | null {
  if (!pattern.startsWith("/")) return "must start with \"/\"";
  const segments = pattern.substring(1).split("/");
  for (let i = 0; i < segments.length; i++) {
    const s = unchecked(segments[i]);
    if (s == "**" && i != segments.length - 1) return "\"**\" may only be the last segment";
    if (s != "*" && s != "**" && s.includes("*")) return "\"*\" must be a whole segment";
  }
  return null;
}

@inline function segmentEnd(ptr: usize, start: i32, length: i32): i32 {
  let i = start;
  while (i < length && load<u8>(ptr + <usize>i) != 0x2f) i++;
  return i;
}

/**
 * `*` matches exactly one non-empty segment, `**` (last) any rest including nothing, other segments
 * match literally. Both strings start with '/'.
 */
export function matchPattern(pattern: usize, patternLength: i32, path: usize, pathLength: i32): bool {
  if (pathLength == 0 || load<u8>(path) != 0x2f) return false;
  let p = 1;
  let q = 1;
  while (true) {
    const pEnd = segmentEnd(pattern, p, patternLength);
    const pLen = pEnd - p;
    if (pLen == 2 && load<u8>(pattern + <usize>p) == 0x2a && load<u8>(pattern + <usize>p + 1) == 0x2a) return true;
    if (q > pathLength) return false;
    const qEnd = segmentEnd(path, q, pathLength);
    const qLen = qEnd - q;
    if (pLen == 1 && load<u8>(pattern + <usize>p) == 0x2a) {
      if (qLen == 0) return false;
    } else if (pLen != qLen || memory.compare(pattern + <usize>p, path + <usize>q, <usize>pLen) != 0) {
      return false;
    }
    const patternDone = pEnd >= patternLength;
    const pathDone = qEnd >= pathLength;
    if (patternDone || pathDone) {
      if (patternDone && pathDone) return true;
      // "/a/**" also matches "/a": the pattern's only remaining segment is "**".
      if (pathDone && pEnd + 3 == patternLength && load<u16>(pattern + <usize>pEnd + 1) == 0x2a2a) return true;
      return false;
    }
    p = pEnd + 1;
    q = qEnd + 1;
  }
}

@inline function lowerAscii(c: u32): u32 {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

/** Host part of an authority without the port (`[v6]:port` keeps its brackets). */
export function hostLength(ptr: usize, length: i32): i32 {
  for (let i = length - 1; i >= 0; i--) {
    const c = load<u8>(ptr + <usize>i);
    if (c == 0x3a) return i;
    if (c < 0x30 || c > 0x39) return length;
  }
  return length;
}

function hostMatches(rule: GateRule, ptr: usize, length: i32): bool {
  const want = rule.hostBytes;
  const wantLength = want.byteLength;
  const host = hostLength(ptr, length);
  let offset = 0;
  if (rule.hostSuffix) {
    // "*.example.com" needs at least one label before the suffix.
    if (host <= wantLength) return false;
    offset = host - wantLength;
  } else if (host != wantLength) {
    return false;
  }
  const wantPtr = changetype<usize>(want);
  for (let i = 0; i < wantLength; i++) {
    if (lowerAscii(<u32>load<u8>(ptr + <usize>(offset + i))) != <u32>load<u8>(wantPtr + <usize>i)) return false;
  }
  return true;
}

function methodMatches(rule: GateRule, ptr: usize, length: i32): bool {
  const methods = rule.methods;
  for (let i = 0; i < methods.length; i++) {
    const m = unchecked(methods[i]);
    if (m.byteLength == length && memory.compare(changetype<usize>(m), ptr, <usize>length) == 0) return true;
  }
  return false;
}

function pathMatches(rule: GateRule, ptr: usize, length: i32): bool {
  const want = rule.pathPrefixBytes;
  const wantPtr = changetype<usize>(want);
  const wantLength = want.byteLength;
  if (rule.pathMatch == PathMatch.PREFIX) return startsWithBytes(ptr, length, wantPtr, wantLength);
  if (rule.pathMatch == PathMatch.EXACT) return length == wantLength && memory.compare(ptr, wantPtr, <usize>length) == 0;
  return matchPattern(wantPtr, wantLength, ptr, length);
}

/** Where the matcher finds `:path`, `:method` and `:authority` (pointer 0 = header absent). */
export class RequestTarget {
  pathPtr: usize = 0;
  pathLength: i32 = 0;
  methodPtr: usize = 0;
  methodLength: i32 = 0;
  authorityPtr: usize = 0;
  authorityLength: i32 = 0;

  /** Back to "no header seen" (the filter reuses one target per VM). */
  reset(): void {
    this.pathPtr = 0;
    this.pathLength = 0;
    this.methodPtr = 0;
    this.methodLength = 0;
    this.authorityPtr = 0;
    this.authorityLength = 0;
  }
}

/** Index of the first matching rule, or -1. */
export function matchRequest(rules: GateRule[], target: RequestTarget): i32 {
  if (target.pathPtr == 0) return -1;
  const length = pathLength(target.pathPtr, target.pathLength);
  for (let i = 0; i < rules.length; i++) {
    const rule = unchecked(rules[i]);
    if (!pathMatches(rule, target.pathPtr, length)) continue;
    if (rule.methods.length > 0 && (target.methodPtr == 0 || !methodMatches(rule, target.methodPtr, target.methodLength))) continue;
    if (rule.hostBytes.byteLength > 0 && (target.authorityPtr == 0 || !hostMatches(rule, target.authorityPtr, target.authorityLength))) continue;
    return i;
  }
  return -1;
}

/** Path-only matching (no method or host), kept for callers that have just a path. */
export function matchRule(rules: GateRule[], pathPtr: usize, pathBytes: i32): i32 {
  const target = new RequestTarget();
  target.pathPtr = pathPtr;
  target.pathLength = pathBytes;
  return matchRequest(rules, target);
}

export function matchRuleForPath(rules: GateRule[], path: string): i32 {
  const bytes = String.UTF8.encode(path);
  return matchRule(rules, changetype<usize>(bytes), bytes.byteLength);
}

/** For tests and the logic spec: method and authority as strings ("" = header absent). */
export function matchRuleForRequest(rules: GateRule[], path: string, method: string, authority: string): i32 {
  const p = String.UTF8.encode(path);
  const m = String.UTF8.encode(method);
  const a = String.UTF8.encode(authority);
  const target = new RequestTarget();
  target.pathPtr = changetype<usize>(p);
  target.pathLength = p.byteLength;
  if (method.length > 0) { target.methodPtr = changetype<usize>(m); target.methodLength = m.byteLength; }
  if (authority.length > 0) { target.authorityPtr = changetype<usize>(a); target.authorityLength = a.byteLength; }
  return matchRequest(rules, target);
}
