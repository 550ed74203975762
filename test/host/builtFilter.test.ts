import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { compilePlugin } from "./index.ts";

// `npm test` builds the filter first; run alone without a build, this says so and skips.
const BUILDS = ["build/entitlement_gate.wasm", "build/entitlement_gate.debug.wasm"];

for (const path of BUILDS) {
  test(`the compiled filter ${path} links against Envoy's ABI 0.2.1 imports and exports`, async (t) => {
    if (!existsSync(path)) {
      t.skip(`${path} not built (npm run build:filter)`);
      return;
    }
    const compiled = await compilePlugin(path);
    assert.equal(compiled.abi, "0_2_1");
    const names = new Set(compiled.info.exports.map((e) => e.name));
    for (const required of ["proxy_on_context_create", "proxy_on_request_headers", "proxy_on_done", "proxy_on_delete"]) {
      assert.ok(names.has(required), `exports ${required}`);
    }
    assert.ok(compiled.info.imports.every((i) => i.module === "env" || i.module.startsWith("wasi")));
  });
}
