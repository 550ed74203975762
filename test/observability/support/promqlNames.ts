// The metric names a PromQL expression reads. Not a full parser: enough for the expressions in
// observability/ (selectors, aggregations with by/without, binary operators, ranges, Grafana variables).

export interface PromqlNames {
  /** Plain metric names (`rate(foo_total[5m])` -> foo_total). */
  names: Set<string>;
  /** Regexes from `{__name__=~"..."}` selectors. */
  nameRegexes: string[];
}

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2"]);

export function promqlNames(expr: string): PromqlNames {
  const nameRegexes: string[] = [];
  const names = new Set<string>();
  for (const m of expr.matchAll(/__name__\s*(=~|=)\s*"([^"]*)"/g)) {
    if (m[1] === "=") names.add(m[2]!);
    else nameRegexes.push(m[2]!);
  }
  const stripped = expr
    .replace(/\$\{[^}]*\}|\$\w+/g, " ") // Grafana variables
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, " ") // string literals
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  for (const m of stripped.matchAll(/(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const word = m[1]!;
    if (m[2] !== undefined || KEYWORDS.has(word.toLowerCase())) continue; // a function or aggregation
    names.add(word);
  }
  return { names, nameRegexes };
}
