#!/usr/bin/env -S node --max-semi-space-size=32
// The `entitlement-gate` command. From a source checkout (tsx installed) it runs the TypeScript CLI
// through tsx's API, so edits take effect without a build; where tsx or the sources are absent (the
// container image, an `npm pack` install) it runs the compiled dist/ from `npm run build:control`.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const source = new URL("../control/cli/main.ts", import.meta.url);
const compiled = new URL("../dist/control/cli/main.js", import.meta.url);

async function tsxRegister() {
  try {
    return (await import("tsx/esm/api")).register;
  } catch {
    return undefined;
  }
}

const register = existsSync(fileURLToPath(source)) && process.env.ENTITLEMENT_GATE_USE_DIST !== "1" ? await tsxRegister() : undefined;
if (register) {
  register();
  await import(source.href);
} else if (existsSync(fileURLToPath(compiled))) {
  await import(compiled.href);
} else {
  process.stderr.write("entitlement-gate: neither tsx (npm install) nor the compiled dist/ (npm run build:control) is available\n");
  process.exit(1);
}
