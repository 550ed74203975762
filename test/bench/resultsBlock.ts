// The results block of BENCHMARKS.md: the text between two markers, made of "### <id>: ..." sections.
// A run replaces the sections it measured and keeps the others, in the bench's section order.

export const RESULTS_START = "<!-- bench:results:start -->";
export const RESULTS_END = "<!-- bench:results:end -->";

/** The block's sections by id (anything before the first "### " is dropped). */
export function sectionsOf(block: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of block.split(/^(?=### )/m)) {
    const id = /^### ([\w-]+):/.exec(part)?.[1];
    if (id !== undefined) out.set(id, part.trimEnd());
  }
  return out;
}

export function replaceResults(document: string, fresh: ReadonlyArray<{ id: string; text: string }>, order: readonly string[]): string {
  const start = document.indexOf(RESULTS_START);
  const end = document.indexOf(RESULTS_END);
  if (start < 0 || end < start) throw new Error(`the document has no ${RESULTS_START} … ${RESULTS_END} block`);
  const sections = sectionsOf(document.slice(start + RESULTS_START.length, end));
  for (const { id, text } of fresh) sections.set(id, text.trimEnd());
  const ids = [...order.filter((id) => sections.has(id)), ...[...sections.keys()].filter((id) => !order.includes(id))];
  const block = [RESULTS_START, "", ...ids.flatMap((id) => [sections.get(id)!, ""]), RESULTS_END].join("\n");
  return document.slice(0, start) + block + document.slice(end + RESULTS_END.length);
}
