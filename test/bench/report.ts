// What a benchmark section hands back: figures with an optional budget verdict, the load they were
// measured under, and notes. Printing and the BENCHMARKS.md block are both built from this.

export interface Figure {
  name: string;
  /** Already formatted with its unit. */
  value: string;
  /** The budget as written in issue 6 ("≤ 8"), when the figure has one. */
  budget?: string;
  holds?: boolean;
}

export interface SectionResult {
  id: string;
  title: string;
  /** How the figures were produced: request mix, concurrency, counts, durations. */
  load: string;
  figures: Figure[];
  notes: string[];
  /** Optional table printed under the figures (first row is the header). */
  table?: string[][];
}

export function figure(name: string, value: string, budget?: { text: string; holds: boolean }): Figure {
  return budget === undefined ? { name, value } : { name, value, budget: budget.text, holds: budget.holds };
}

export function verdict(f: Figure): string {
  if (f.holds === undefined) return "";
  return f.holds ? "holds" : "MISSES";
}

/** Nearest-rank percentile of an unsorted sample (p in 0..100). */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(sample: readonly number[]): number {
  return percentile(sample, 50);
}

export function ms(value: number, digits = 2): string {
  return `${value.toFixed(digits)} ms`;
}

export function us(valueMs: number, digits = 1): string {
  return `${(valueMs * 1000).toFixed(digits)} µs`;
}

export function ratio(value: number, digits = 2): string {
  return `${value.toFixed(digits)}×`;
}

export function count(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

export function bytes(value: number): string {
  if (value >= 1024 * 1024) return `${(value / (1024 * 1024)).toFixed(1)} MiB (${count(value)} B)`;
  if (value >= 10 * 1024) return `${(value / 1024).toFixed(1)} KiB (${count(value)} B)`;
  return `${count(value)} B`;
}

function pad(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
}

export function printSection(result: SectionResult, write: (line: string) => void): void {
  write("");
  write(`== ${result.id}: ${result.title}`);
  write(`   load: ${result.load}`);
  const rows = result.figures.map((f) => [f.name, f.value, f.budget === undefined ? "" : `budget ${f.budget}`, verdict(f)]);
  for (const line of pad(rows)) write(`   ${line}`);
  if (result.table) {
    write("");
    for (const line of pad(result.table)) write(`   ${line}`);
  }
  for (const note of result.notes) write(`   note: ${note}`);
}

function markdownTable(rows: string[][]): string[] {
  const [head, ...body] = rows;
  if (!head) return [];
  const esc = (cell: string): string => cell.replace(/\|/g, "\\|");
  return [`| ${head.map(esc).join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...body.map((r) => `| ${r.map(esc).join(" | ")} |`)];
}

export function sectionMarkdown(result: SectionResult): string[] {
  const lines = [`### ${result.id}: ${result.title}`, "", `Load: ${result.load}`, ""];
  lines.push(
    ...markdownTable([
      ["figure", "value", "budget", "verdict"],
      ...result.figures.map((f) => [f.name, f.value, f.budget ?? "", verdict(f)]),
    ]),
  );
  if (result.table) lines.push("", ...markdownTable(result.table));
  if (result.notes.length > 0) lines.push("", ...result.notes.map((n) => `- ${n}`));
  lines.push("");
  return lines;
}
