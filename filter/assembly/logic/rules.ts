// Route rules: which feature a request needs. Matching runs on the raw `:path` bytes (query string and
// fragment excluded), first match wins, no allocation.
import { startsWithBytes } from "./byteReader";

export class GateRule {
  pathPrefix: string = "";
  pathPrefixBytes: ArrayBuffer = new ArrayBuffer(0);
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

/** Index of the first rule whose prefix the path starts with, or -1. */
export function matchRule(rules: GateRule[], pathPtr: usize, pathBytes: i32): i32 {
  const length = pathLength(pathPtr, pathBytes);
  for (let i = 0; i < rules.length; i++) {
    const prefix = unchecked(rules[i]).pathPrefixBytes;
    if (startsWithBytes(pathPtr, length, changetype<usize>(prefix), prefix.byteLength)) return i;
  }
  return -1;
}

export function matchRuleForPath(rules: GateRule[], path: string): i32 {
  const bytes = String.UTF8.encode(path);
  return matchRule(rules, changetype<usize>(bytes), bytes.byteLength);
}
