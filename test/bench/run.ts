// `npm run bench [-- SECTION...] [-- --write] [-- --quick]`: runs the benchmark sections of issue 6,
// prints every figure with its budget verdict, and with --write replaces the results block of
// BENCHMARKS.md. Benchmarks report; they never fail on a missed budget (exit 0 unless one crashes).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { machineInfo, machineLines } from "./machine.ts";
import { printSection, sectionMarkdown, type SectionResult } from "./report.ts";
import { replaceResults } from "./resultsBlock.ts";
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

function writeResults(header: string[], results: SectionResult[]): void {
  const path = join(REPO_ROOT, "BENCHMARKS.md");
  const fresh = results.map((r) => {
    const md = sectionMarkdown(r);
    return { id: r.id, text: [...md.slice(0, 2), ...header, ...md.slice(2)].join("\n") };
  });
  writeFileSync(path, replaceResults(readFileSync(path, "utf8"), fresh, SECTIONS.map((s) => s.id)));
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
