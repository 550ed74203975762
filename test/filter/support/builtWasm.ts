// The built filter module (npm run build:filter). Tests fail with a hint when it is missing.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

export const RELEASE_WASM = resolve(import.meta.dirname, "../../../build/entitlement_gate.wasm");

export function loadFilterWasm(): Uint8Array {
  if (!existsSync(RELEASE_WASM)) throw new Error(`${RELEASE_WASM} is missing: run npm run build:filter first`);
  return new Uint8Array(readFileSync(RELEASE_WASM));
}
