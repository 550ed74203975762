import { test } from "node:test";
import assert from "node:assert/strict";
import { replaceResults, RESULTS_END, RESULTS_START } from "./resultsBlock.ts";
import { percentile } from "./report.ts";

const doc = (block: string): string => `# Benchmarks\n\ntext\n\n${RESULTS_START}\n${block}\n${RESULTS_END}\n\nafter\n`;

test("a run replaces the sections it measured and keeps the others in section order", () => {
  const before = doc("placeholder\n\n### scale: old scale\n\nold scale figures\n\n### filter: old filter\n\nold filter figures\n");
  const after = replaceResults(before, [{ id: "filter", text: "### filter: new filter\n\nnew figures\n" }], ["filter", "propagation", "scale"]);
  const block = after.slice(after.indexOf(RESULTS_START), after.indexOf(RESULTS_END));
  assert.ok(!block.includes("placeholder"));
  assert.ok(!block.includes("old filter"));
  assert.ok(block.indexOf("### filter: new filter") < block.indexOf("### scale: old scale"));
  assert.ok(after.startsWith("# Benchmarks\n\ntext\n\n") && after.endsWith(`${RESULTS_END}\n\nafter\n`));
});

test("a document without the markers is refused", () => {
  assert.throws(() => replaceResults("# nothing here", [], []), /no <!-- bench:results:start -->/);
});

test("percentiles use the nearest rank", () => {
  const sample = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(percentile(sample, 50), 50);
  assert.equal(percentile(sample, 99), 99);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});
