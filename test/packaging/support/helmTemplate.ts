// A renderer for the subset of Helm's Go templates our chart uses, because neither helm nor kustomize
// is installable here (no apt candidate, no official npm build). Supported: {{ }} with {{- -}} trimming,
// {{/* comments */}}, .Values/.Release/.Chart paths, .Files.Get, if / else if / else / end, pipelines,
// parentheses, string/number literals, and the functions eq ne and or not default quote toYaml nindent
// indent printf. Anything else throws, so the chart cannot silently use a feature this does not render.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";

type Value = unknown;

interface TextNode {
  kind: "text";
  text: string;
}
interface OutputNode {
  kind: "output";
  expr: string;
}
interface IfNode {
  kind: "if";
  branches: Array<{ cond: string | undefined; body: Node[] }>;
}
type Node = TextNode | OutputNode | IfNode;

interface Action {
  kind: "action";
  body: string;
}

function lex(template: string): Array<TextNode | Action> {
  const out: Array<TextNode | Action> = [];
  let pos = 0;
  while (pos < template.length) {
    const open = template.indexOf("{{", pos);
    if (open < 0) {
      out.push({ kind: "text", text: template.slice(pos) });
      break;
    }
    let text = template.slice(pos, open);
    const close = template.indexOf("}}", open);
    if (close < 0) throw new Error(`unclosed action at ${open}`);
    let body = template.slice(open + 2, close);
    if (body.startsWith("-")) {
      text = text.replace(/\s+$/, "");
      body = body.slice(1);
    }
    let trimRight = false;
    if (body.endsWith("-")) {
      trimRight = true;
      body = body.slice(0, -1);
    }
    out.push({ kind: "text", text });
    body = body.trim();
    if (!(body.startsWith("/*") && body.endsWith("*/"))) out.push({ kind: "action", body });
    pos = close + 2;
    if (trimRight) while (pos < template.length && /\s/.test(template[pos]!)) pos++;
  }
  return out;
}

function parse(tokens: Array<TextNode | Action>): Node[] {
  let i = 0;
  const block = (terminators: string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const t = tokens[i++]!;
      if (t.kind === "text") {
        if (t.text) nodes.push(t);
        continue;
      }
      const word = t.body.split(/\s+/)[0]!;
      if (terminators.includes(word)) return { nodes, end: t.body };
      if (word === "if") {
        const node: IfNode = { kind: "if", branches: [] };
        let cond: string | undefined = t.body.slice(2).trim();
        for (;;) {
          const inner = block(["else", "end"]);
          node.branches.push({ cond, body: inner.nodes });
          if (inner.end === "end") break;
          const rest = inner.end.slice(4).trim();
          if (rest === "") cond = undefined;
          else if (rest.startsWith("if ")) cond = rest.slice(3).trim();
          else throw new Error(`unsupported: {{ ${inner.end} }}`);
        }
        nodes.push(node);
      } else if (["range", "with", "define", "template", "block", "include"].includes(word) || word.startsWith("$")) {
        throw new Error(`unsupported template action: {{ ${t.body} }}`);
      } else nodes.push({ kind: "output", expr: t.body });
    }
    if (terminators.length > 0) throw new Error(`missing {{ end }}`);
    return { nodes, end: "" };
  };
  return block([]).nodes;
}

function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

function tokenizeExpr(expr: string): string[] {
  const tokens: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|\(|\)|\||[^\s()|]+)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(expr)) !== null) tokens.push(m[1]!);
  if (tokens.join("").replace(/\s/g, "") !== expr.replace(/\s/g, "")) throw new Error(`cannot tokenize ${expr}`);
  return tokens;
}

function indentText(n: number, s: string): string {
  return s.split("\n").map((line) => " ".repeat(n) + line).join("\n");
}

export interface ChartContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string };
  Chart: Record<string, unknown>;
  chartDir: string;
}

export function renderTemplateText(template: string, ctx: ChartContext): string {
  const functions: Record<string, (...args: Value[]) => Value> = {
    eq: (a, b) => a === b,
    ne: (a, b) => a !== b,
    and: (...args) => args.find((a) => !truthy(a)) ?? args[args.length - 1],
    or: (...args) => args.find((a) => truthy(a)) ?? args[args.length - 1],
    not: (a) => !truthy(a),
    default: (def, v) => (truthy(v) ? v : def),
    quote: (v) => JSON.stringify(v === undefined || v === null ? "" : String(v)),
    toYaml: (v) => stringify(v, { lineWidth: 0 }).replace(/\n$/, ""),
    nindent: (n, s) => "\n" + indentText(Number(n), String(s)),
    indent: (n, s) => indentText(Number(n), String(s)),
    printf: (fmt, ...args) => {
      let i = 0;
      return String(fmt).replace(/%[sdv]/g, () => String(args[i++]));
    },
  };
  const files = { Get: (path: Value) => readFileSync(join(ctx.chartDir, String(path)), "utf8") };
  const root: Record<string, unknown> = { Values: ctx.Values, Release: ctx.Release, Chart: ctx.Chart, Files: files };

  const evalExpr = (expr: string): Value => {
    const tokens = tokenizeExpr(expr);
    let pos = 0;
    const operand = (): Value => {
      const t = tokens[pos++];
      if (t === undefined) throw new Error(`unexpected end of ${expr}`);
      if (t === "(") {
        const v = pipeline();
        if (tokens[pos++] !== ")") throw new Error(`missing ) in ${expr}`);
        return v;
      }
      if (t.startsWith('"')) return JSON.parse(t) as string;
      if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
      if (t === "true" || t === "false") return t === "true";
      if (t.startsWith(".")) {
        let v: unknown = root;
        for (const key of t.slice(1).split(".")) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
        return v;
      }
      throw new Error(`unsupported operand ${t} in ${expr}`);
    };
    const command = (piped: Value[]): Value => {
      const head = tokens[pos];
      if (head !== undefined && /^[a-zA-Z]\w*$/.test(head) && !["true", "false"].includes(head)) {
        pos++;
        const fn = functions[head];
        if (!fn) throw new Error(`unsupported function ${head} in ${expr}`);
        const args: Value[] = [];
        while (pos < tokens.length && tokens[pos] !== "|" && tokens[pos] !== ")") args.push(operand());
        return fn(...args, ...piped);
      }
      const first = operand();
      if (typeof first === "function") {
        const args: Value[] = [];
        while (pos < tokens.length && tokens[pos] !== "|" && tokens[pos] !== ")") args.push(operand());
        return (first as (...a: Value[]) => Value)(...args, ...piped);
      }
      if (piped.length > 0) throw new Error(`cannot pipe into a value in ${expr}`);
      return first;
    };
    const pipeline = (): Value => {
      let value = command([]);
      while (tokens[pos] === "|") {
        pos++;
        value = command([value]);
      }
      return value;
    };
    const result = pipeline();
    if (pos !== tokens.length) throw new Error(`unexpected ${tokens[pos]} in ${expr}`);
    return result;
  };

  const render = (nodes: Node[]): string =>
    nodes
      .map((node) => {
        if (node.kind === "text") return node.text;
        if (node.kind === "output") {
          const v = evalExpr(node.expr);
          return v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
        }
        const branch = node.branches.find((b) => b.cond === undefined || truthy(evalExpr(b.cond)));
        return branch ? render(branch.body) : "";
      })
      .join("");
  return render(parse(lex(template)));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Helm's values merge: maps merge key by key, anything else is replaced. */
export function mergeValues(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeValues(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/** Renders every templates/*.yaml of a chart, like `helm template`: file name -> rendered text. */
export function renderChart(
  chartDir: string,
  overrides: Record<string, unknown> = {},
  release: { Name: string; Namespace: string } = { Name: "release-name", Namespace: "default" },
): Map<string, string> {
  const parse = parseYaml;
  const chart = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as Record<string, unknown>;
  const values = mergeValues(parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as Record<string, unknown>, overrides);
  const ctx: ChartContext = {
    Values: values,
    Release: release,
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    chartDir,
  };
  const out = new Map<string, string>();
  for (const name of readdirSync(join(chartDir, "templates")).sort()) {
    if (!name.endsWith(".yaml") || name.startsWith("_")) continue;
    out.set(name, renderTemplateText(readFileSync(join(chartDir, "templates", name), "utf8"), ctx));
  }
  return out;
}
