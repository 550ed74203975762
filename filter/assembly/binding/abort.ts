// Replacement for AssemblyScript's `abort` (asconfig `use: abort=...`): Envoy provides no `env.abort`.
// An abort still ends in a trap (the compiler emits `unreachable` after it); this only makes sure the
// reason reaches Envoy's log first. It must not allocate much: the heap may be what failed.
import { proxy_log } from "./imports";
import { LogLevel } from "./constants";

export function onAbort(message: string | null, fileName: string | null, lineNumber: u32, columnNumber: u32): void {
  let text = "entitlement-gate: abort";
  if (message !== null) text += ": " + message;
  if (fileName !== null) text += " at " + fileName + ":" + lineNumber.toString() + ":" + columnNumber.toString();
  const bytes = String.UTF8.encode(text);
  proxy_log(LogLevel.CRITICAL, changetype<usize>(bytes), <usize>bytes.byteLength);
}
