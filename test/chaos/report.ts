// Tables, trends and the "Chaos and soak" section of RELIABILITY.md, shared by the chaos run and the
// soak. Pure except `writeSection`, which only touches its own subsection of that file.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export function markdownTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = rows.map((row) => row.map((cell) => String(cell).replaceAll("|", "\\|")));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? "").length)));
  const line = (values: readonly string[]): string => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(headers), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}

export const SECTION_HEADING = "## Chaos and soak";

/**
 * Replaces (or appends) one `### <name>` block inside the "Chaos and soak" section, leaving the rest
 * of the document — other engineers' sections and the other block — untouched.
 */
export function replaceSubsection(document: string, name: string, body: string): string {
  const block = `### ${name}\n\n${body.trim()}\n`;
  let text = document;
  let start = text.indexOf(`${SECTION_HEADING}\n`);
  if (start < 0) {
    text = `${text.trimEnd()}${text.trim() === "" ? "" : "\n\n"}${SECTION_HEADING}\n\n`;
    start = text.indexOf(`${SECTION_HEADING}\n`);
  }
  const sectionBody = start + SECTION_HEADING.length + 1;
  const nextSection = indexOfHeading(text, "## ", sectionBody);
  const sectionEnd = nextSection < 0 ? text.length : nextSection;
  const heading = `### ${name}\n`;
  const own = text.indexOf(heading, sectionBody);
  if (own >= 0 && own < sectionEnd) {
    const after = indexOfHeading(text, "### ", own + heading.length);
    const ownEnd = after >= 0 && after < sectionEnd ? after : sectionEnd;
    const tail = text.slice(ownEnd);
    return `${text.slice(0, own)}${block}${tail.length > 0 ? "\n" : ""}${tail}`;
  }
  const before = text.slice(0, sectionEnd).trimEnd();
  const tail = text.slice(sectionEnd);
  return `${before}\n\n${block}${tail.length > 0 ? "\n" : ""}${tail}`;
}

/** A heading of exactly this level at the start of a line ("## " never matches "### "). */
function indexOfHeading(text: string, prefix: string, from: number): number {
  const pattern = new RegExp(`^${prefix}`, "gm");
  pattern.lastIndex = from;
  return pattern.exec(text)?.index ?? -1;
}

export function writeSubsection(path: string, name: string, body: string): void {
  // Re-read right before writing: another engineer edits the other sections of this file.
  const current = existsSync(path) ? readFileSync(path, "utf8") : "";
  writeFileSync(path, replaceSubsection(current, name, body));
}

/** Least-squares slope of y over x (units of y per unit of x); 0 with fewer than two points. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * The slope of a noisy series' envelope: the points are cut into `windows` consecutive chunks and each
 * chunk reduced to one value (`pick`: e.g. its minimum for heap — the floor after each GC, which a leak
 * lifts while the sawtooth above it does not matter).
 */
export function envelopeSlope(points: ReadonlyArray<{ x: number; y: number }>, windows: number, pick: (ys: number[]) => number): number {
  const n = Math.max(1, Math.min(windows, points.length));
  const reduced: Array<{ x: number; y: number }> = [];
  for (let w = 0; w < n; w++) {
    const chunk = points.slice(Math.floor((w * points.length) / n), Math.floor(((w + 1) * points.length) / n));
    if (chunk.length === 0) continue;
    reduced.push({ x: chunk.reduce((s, p) => s + p.x, 0) / chunk.length, y: pick(chunk.map((p) => p.y)) });
  }
  return slope(reduced);
}

export const minimum = (ys: number[]): number => Math.min(...ys);
export const maximum = (ys: number[]): number => Math.max(...ys);

export function median(ys: number[]): number {
  const sorted = [...ys].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The second half of a series (what "flat" is judged on: start-up growth is expected). */
export function lastHalf<T>(values: readonly T[]): T[] {
  return values.slice(Math.floor(values.length / 2));
}

/** A small plot of one series, `height` rows by at most `width` columns (values averaged per column). */
export function asciiPlot(values: readonly number[], width = 60, height = 8): string {
  if (values.length === 0) return "(no samples)";
  const columns = Math.min(width, values.length);
  const buckets: number[] = [];
  for (let c = 0; c < columns; c++) {
    const from = Math.floor((c * values.length) / columns);
    const to = Math.max(from + 1, Math.floor(((c + 1) * values.length) / columns));
    const slice = values.slice(from, to);
    buckets.push(slice.reduce((s, v) => s + v, 0) / slice.length);
  }
  const min = Math.min(...buckets);
  const max = Math.max(...buckets);
  const span = max - min || 1;
  const rows: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    let line = "";
    for (const v of buckets) line += Math.round(((v - min) / span) * (height - 1)) >= r ? "#" : " ";
    rows.push(`|${line}`);
  }
  return [`max ${formatNumber(max)}`, ...rows, `+${"-".repeat(columns)}`, `min ${formatNumber(min)}`].join("\n");
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "n/a";
  const mib = bytes / (1024 * 1024);
  return Math.abs(mib) >= 1 ? `${mib.toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
}
