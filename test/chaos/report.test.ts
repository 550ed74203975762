// Report helpers shared by the chaos suite and the soak: tables, trend slopes, the plot, and edits
// that touch only our own block of RELIABILITY.md.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { asciiPlot, envelopeSlope, lastHalf, markdownTable, median, minimum, replaceSubsection, slope } from "./report.ts";

describe("report helpers", () => {
  it("pads a markdown table to aligned columns and escapes pipes", () => {
    const table = markdownTable(["a", "value"], [["x|y", 1], ["long cell", 22]]);
    assert.equal(table, ["| a         | value |", "|-----------|-------|", "| x\\|y      | 1     |", "| long cell | 22    |"].join("\n"));
  });

  it("computes a least-squares slope and keeps the second half of a series", () => {
    assert.equal(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
    assert.equal(slope([{ x: 0, y: 7 }, { x: 5, y: 7 }]), 0);
    assert.equal(slope([{ x: 1, y: 1 }]), 0);
    assert.deepEqual(lastHalf([1, 2, 3, 4, 5]), [3, 4, 5]);
  });

  it("ignores a GC sawtooth whose floor stays put and sees a floor that rises", () => {
    const saw = Array.from({ length: 60 }, (_, i) => ({ x: i, y: 100 + (i % 10) * 5 }));
    assert.equal(envelopeSlope(saw, 6, minimum), 0);
    assert.ok(slope(saw.slice(0, 55)) !== 0, "a plain slope over the same points is not zero");
    const leak = saw.map((p) => ({ x: p.x, y: p.y + p.x }));
    assert.ok(Math.abs(envelopeSlope(leak, 6, minimum) - 1) < 0.01);
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  it("plots a rising series from bottom left to top right", () => {
    const plot = asciiPlot([0, 1, 2, 3], 4, 4).split("\n");
    assert.equal(plot[0], "max 3.00");
    assert.equal(plot[1], "|   #");
    assert.equal(plot[4], "|####");
    assert.equal(plot.at(-1), "min 0.00");
    assert.equal(asciiPlot([]), "(no samples)");
  });

  it("creates the Chaos and soak section in a document that has none, after the other sections", () => {
    const out = replaceSubsection("# Reliability\n\n## Security\n\ntext\n", "Soak", "table");
    assert.equal(out, "# Reliability\n\n## Security\n\ntext\n\n## Chaos and soak\n\n### Soak\n\ntable\n");
  });

  it("replaces only its own block and leaves sibling blocks and later sections alone", () => {
    const doc = "# R\n\n## Chaos and soak\n\nintro\n\n### Chaos suite\n\nold chaos\n\n### Soak\n\nold soak\n\n## Fuzzing\n\nfuzz text\n";
    const out = replaceSubsection(doc, "Chaos suite", "new chaos");
    assert.equal(out, "# R\n\n## Chaos and soak\n\nintro\n\n### Chaos suite\n\nnew chaos\n\n### Soak\n\nold soak\n\n## Fuzzing\n\nfuzz text\n");
    const again = replaceSubsection(out, "Soak", "new soak");
    assert.equal(again, "# R\n\n## Chaos and soak\n\nintro\n\n### Chaos suite\n\nnew chaos\n\n### Soak\n\nnew soak\n\n## Fuzzing\n\nfuzz text\n");
  });

  it("appends a missing block at the end of the section, before the next section", () => {
    const doc = "## Chaos and soak\n\n### Chaos suite\n\nc\n\n## Limits\n\nl\n";
    assert.equal(replaceSubsection(doc, "Soak", "s"), "## Chaos and soak\n\n### Chaos suite\n\nc\n\n### Soak\n\ns\n\n## Limits\n\nl\n");
  });
});
