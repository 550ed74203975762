// `npm run bench [-- SECTION...] [-- --write] [-- --quick]`: runs the benchmark sections of issue 6,
// prints every figure with its budget verdict, and with --write replaces the results block of
// BENCHMARKS.md. Benchmarks report; they never fail on a missed budget (exit 0 unless one crashes).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { machineInfo, machineLines } from "./machine.ts";
import { printSection, sectionMarkdown, type SectionResult } from "./report.ts";
import { ensureFilterBuilt, ensureNoopBuilt, REPO_ROOT } from "./wasmBuilds.ts";
import { filterBench } from "./filterBench.ts";
import { propagationBench } from "./propagationBench.ts";
import { scaleBench } from "./scaleBench.ts";
import { checkBench } from "./checkBench.ts";
import { missPathBench } from "./missPathBench.ts";
import { problemBench } from "./problemBench.ts";

interface Section {
  id: string;
  run: (log: (line: string) => void, options: { quick: boolean }) => Promise<SectionResult>;
}

const SECTIONS: Section[] = [
  { id: "filter", run: filterBench },
  { id: "propagation", run: propagationBench },
  { id: "check", run: checkBench },
  { id: "miss", run: missPathBench },
  { id: "scale", run: scaleBench },
  { id: "problem", run: problemBench },
];

const RESULTS_START = "<!-- bench:results:start -->";
const RESULTS_END = "<!-- bench:results:end -->";

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function parseArgs(argv: string[]): { sections: Section[]; write: boolean; quick: boolean } {
  const write = argv.includes("--write");
  const quick = argv.includes("--quick");
  const names = argv.filter((a) => !a.startsWith("--"));
  const unknown = names.filter((n) => !SECTIONS.some((s) => s.id === n));
  const flags = argv.filter((a) => a.startsWith("--") && a !== "--write" && a !== "--quick");
  if (unknown.length > 0 || flags.length > 0) {
    process.stderr.write(`unknown ${[...unknown, ...flags].join(", ")}; sections: ${SECTIONS.map((s) => s.id).join(", ")}; flags: --write, --quick\n`);
    process.exit(2);
  }
  const sections = names.length === 0 ? SECTIONS : SECTIONS.filter((s) => names.includes(s.id));
  return { sections, write, quick };
}

/** Splits a results block into its "### <id>:" sections, keyed by id. */
function sectionsOf(block: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = block.split(/^(?=### )/m).slice(1);
  for (const part of parts) {
    const id = /^### ([\w-]+):/.exec(part)?.[1];
    if (id !== undefined) out.set(id, part.trimEnd());
  }
  return out;
}

/**
 * Rewrites the results block. Sections run now replace their previous text; sections not run keep it
 * (each section says when and where it was measured), so `--write filter` updates only that section.
 */
function writeResults(header: string[], results: SectionResult[]): void {
  const path = join(REPO_ROOT, "BENCHMARKS.md");
  const text = readFileSync(path, "utf8");
  const start = text.indexOf(RESULTS_START);
  const end = text.indexOf(RESULTS_END);
  if (start < 0 || end < start) throw new Error(`BENCHMARKS.md has no ${RESULTS_START} … ${RESULTS_END} block`);
  const previous = sectionsOf(text.slice(start + RESULTS_START.length, end));
  const fresh = new Map(results.map((r) => [r.id, [...sectionMarkdown(r).slice(0, 2), ...header, ...sectionMarkdown(r).slice(2)].join("\n").trimEnd()]));
  const ordered = SECTIONS.map((s) => fresh.get(s.id) ?? previous.get(s.id)).filter((t): t is string => t !== undefined);
  const block = [RESULTS_START, "", ...ordered.flatMap((t) => [t, ""]), RESULTS_END].join("\n");
  writeFileSync(path, text.slice(0, start) + block + text.slice(end + RESULTS_END.length));
  log(`\nwrote ${results.map((r) => r.id).join(", ")} into the results block of ${path}`);
}

async function main(): Promise<void> {
  const { sections, write, quick } = parseArgs(process.argv.slice(2));
  const machine = machineInfo();
  log("entitlement-gate benchmarks");
  for (const line of machineLines(machine)) log(`  ${line}`);
  ensureFilterBuilt(log);
  await ensureNoopBuilt(log);

  const results: SectionResult[] = [];
  const started = performance.now();
  for (const section of sections) {
    const t0 = performance.now();
    log(`\n-- running ${section.id}${quick ? " (quick)" : ""}`);
    try {
      const result = await section.run(log, { quick });
      results.push(result);
      printSection(result, log);
      log(`   (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      log(`   ${section.id} FAILED: ${message}`);
      results.push({ id: section.id, title: "did not run to the end", load: "-", figures: [], notes: [`failed: ${message.split("\n")[0]}`] });
      process.exitCode = 1;
    }
  }
  log(`\nall sections: ${((performance.now() - started) / 1000).toFixed(1)} s`);

  if (write) {
    const header = [
      `Measured ${machine.date}${quick ? " in quick mode (reduced counts, not for publication)" : ""} on: ${machine.cpuModel}, ${machine.logicalCpus} CPUs (nproc ${machine.nproc}), ${machine.memoryTotal}, Node ${machine.node}, ${machine.platform}; load average at start ${machine.loadAverage}.`,
      "",
    ];
    writeResults(header, results);
  }
}

await main();
