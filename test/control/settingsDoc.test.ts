import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { README, renderInto } from "../../scripts/settings-doc.ts";
import { SETTINGS } from "../../control/config/settings.ts";

test("README.md documents every control-plane setting exactly as the code defines it", () => {
  const readme = readFileSync(README, "utf8");
  assert.equal(readme, renderInto(readme), "README.md's settings table is stale: run `node --import tsx scripts/settings-doc.ts --write`");
  for (const s of SETTINGS) assert.ok(readme.includes(`\`${s.env}\``), `${s.env} is in README.md`);
});
