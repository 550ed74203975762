// The Grafana dashboard and the Prometheus alert rules only use metrics that exist: control-plane
// names from a real control plane's /metrics, filter names from the filter's metric definitions
// (what Envoy's /stats/prometheus emits, without prefix). promtool, when installed, also checks
// the rules, every dashboard expression, and the alert unit tests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { defaultSettings } from "../../control/config/settings.ts";
import { startControlPlane } from "../../control/controlPlane.ts";
import { createLogger } from "../../control/log.ts";
import { Metrics } from "../../control/metrics/metrics.ts";
import { promqlNames } from "./support/promqlNames.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DASHBOARD = join(ROOT, "observability/grafana/entitlement-gate.json");
const ALERTS = join(ROOT, "observability/prometheus/alerts.yaml");
const ALERT_TESTS = join(ROOT, "observability/prometheus/alerts.test.yaml");

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
const rules = parse(readFileSync(ALERTS, "utf8")) as RuleFile;
const queryPanels = dashboard.panels.filter((p) => p.type !== "row");
const dashboardExprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title ?? String(p.id), expr: t.expr ?? "" })));
const alertRules = rules.groups.flatMap((g) => g.rules);

/** Names a Prometheus scrape of the control plane can carry (histograms expand to their series). */
async function controlPlaneNames(): Promise<Set<string>> {
  const cp = await startControlPlane(
    { ...defaultSettings(), syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1" },
    { logger: createLogger("silent"), metrics: new Metrics() },
  );
  try {
    const text = await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
    const names = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name, kind] = m as unknown as [string, string, string];
      names.add(name);
      if (kind === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
      if (kind === "summary") for (const suffix of ["_sum", "_count"]) names.add(name + suffix);
    }
    return names;
  } finally {
    await cp.close(100);
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Every stat the filter defines with proxy_define_metric (counter("…") / gauge("…") / histogram("…")). */
function filterNames(): Set<string> {
  const names = new Set<string>();
  const reasons = readFileSync(join(ROOT, "filter/assembly/logic/reasons.ts"), "utf8");
  const reasonList = /const NAMES[^=]*=\s*\[([\s\S]*?)\];/.exec(reasons)?.[1] ?? "";
  const reasonNames = [...reasonList.matchAll(/"(\w+)"/g)].map((m) => m[1]!).concat("MissingCustomerId");
  assert.ok(reasonNames.length >= 15, "reason names not found in filter/assembly/logic/reasons.ts");
  for (const file of sourceFiles(join(ROOT, "filter/assembly"))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/\b(?:counter|gauge|histogram)\("(\w+)"\)/g)) names.add(m[1]!);
    // One counter per reason: counter("prefix_" + reasonName(reason)).
    for (const m of text.matchAll(/\b(?:counter|gauge|histogram)\("(\w+)"\s*\+\s*reasonName\(/g)) for (const r of reasonNames) names.add(m[1]! + r);
  }
  return names;
}

function unknownNames(expr: string, known: Set<string>): string[] {
  const { names, nameRegexes } = promqlNames(expr);
  const missing = [...names].filter((n) => !known.has(n));
  for (const regex of nameRegexes) {
    const anchored = new RegExp(`^(?:${regex})$`);
    if (![...known].some((n) => anchored.test(n))) missing.push(`__name__=~"${regex}"`);
    // Alternations of plain names must each exist.
    if (/^[\w|]+$/.test(regex)) missing.push(...regex.split("|").filter((n) => !known.has(n)));
  }
  return missing;
}

function promtool(): string | undefined {
  const found = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

test("every metric the dashboard and the alert rules use is one the control plane or the filter exports", async () => {
  const control = await controlPlaneNames();
  const filter = filterNames();
  assert.ok(control.has("entitlement_gate_decisions_total") && control.has("sidecar_network_request_errors_total"), "the scrape lacks our metrics");
  assert.ok(filter.has("entitlement_gate_allowed") && filter.has("entitlement_sync_staleness_ms") && filter.has("entitlement_gate_denied_MissingCustomerId"));
  const known = new Set([...control, ...filter]);

  const problems: string[] = [];
  for (const { panel, expr } of dashboardExprs) for (const name of unknownNames(expr, known)) problems.push(`dashboard "${panel}": ${name}`);
  for (const rule of alertRules) for (const name of unknownNames(rule.expr, known)) problems.push(`alert ${rule.alert}: ${name}`);
  for (const variable of dashboard.templating.list) {
    const metric = /label_values\((\w+),/.exec(variable.definition ?? "")?.[1];
    if (metric && !known.has(metric)) problems.push(`variable ${variable.name}: ${metric}`);
  }
  assert.deepEqual(problems, []);
});

test("the dashboard covers the control plane and the filter, every query on the ${datasource} variable", () => {
  assert.equal(dashboard.uid, "entitlement-gate");
  assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`);
  const datasource = dashboard.templating.list.find((v) => v.name === "datasource");
  assert.deepEqual({ type: datasource?.type, query: datasource?.query }, { type: "datasource", query: "prometheus" });

  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, "panel ids must be unique");
  for (const panel of queryPanels) {
    assert.ok(panel.title && panel.description, `panel ${panel.id} needs a title and a description`);
    assert.equal(panel.datasource?.uid, "${datasource}", `panel ${panel.title}`);
    assert.ok((panel.targets ?? []).length > 0, `panel ${panel.title} has no query`);
    for (const target of panel.targets ?? []) {
      assert.ok(target.expr, `panel ${panel.title} has an empty query`);
      assert.equal(target.datasource?.uid, "${datasource}", `panel ${panel.title} target ${target.refId}`);
    }
    assert.ok(panel.gridPos.x >= 0 && panel.gridPos.x + panel.gridPos.w <= 24, `panel ${panel.title} is wider than the grid`);
  }

  const used = new Set(dashboardExprs.flatMap(({ expr }) => [...promqlNames(expr).names]));
  const required = [
    "entitlement_gate_decisions_total",
    "entitlement_gate_fallbacks_total",
    "entitlement_gate_cache_entries",
    "entitlement_gate_cache_bytes",
    "sidecar_cache_hits_total",
    "sidecar_cache_misses_total",
    "entitlement_gate_upstream_request_duration_seconds_bucket",
    "sidecar_network_request_errors_total",
    "sidecar_redis_client_errors_total",
    "sidecar_initialization_errors_total",
    "sidecar_invalid_api_key_errors_total",
    "entitlement_gate_sync_clients",
    "entitlement_gate_sync_lag_versions",
    "entitlement_gate_event_stream_connected",
    "entitlement_gate_allowed",
    "entitlement_gate_denied",
    "entitlement_gate_fallbacks",
    "entitlement_gate_shadow_disagreements",
    "entitlement_sync_connected",
    "entitlement_sync_staleness_ms",
  ];
  assert.deepEqual(required.filter((n) => !used.has(n)), []);
  assert.ok(dashboardExprs.some(({ expr }) => expr.includes("histogram_quantile(0.99")), "upstream latency p99 panel");
});

test("the alert rules cover Stigg's documented failures and ours, each with a severity and an explanation", () => {
  const names = alertRules.map((r) => r.alert ?? r.record);
  assert.equal(new Set(names).size, names.length, "alert names must be unique");
  for (const rule of alertRules) {
    assert.ok(rule.alert, "only alerting rules belong in alerts.yaml");
    assert.ok(["critical", "warning", "info"].includes(rule.labels?.severity ?? ""), `${rule.alert}: severity`);
    assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}: summary and description`);
    if (rule.for !== undefined) assert.match(rule.for, /^\d+[smh]$/, `${rule.alert}: for`);
  }
  const uses = (alert: string, metric: string): void => {
    const rule = alertRules.find((r) => r.alert === alert);
    assert.ok(rule, `missing alert ${alert}`);
    assert.ok(rule.expr.includes(metric), `${alert} should read ${metric}`);
  };
  uses("EntitlementGateInitializationErrors", "sidecar_initialization_errors_total");
  uses("EntitlementGateUpstreamNetworkErrors", "sidecar_network_request_errors_total[5m]");
  uses("EntitlementGateInvalidApiKey", "sidecar_invalid_api_key_errors_total");
  uses("EntitlementGateRedisErrors", "sidecar_redis_client_errors_total");
  uses("EntitlementGateHighFallbackRate", "entitlement_gate_fallbacks_total");
  uses("EntitlementGateSyncLag", "entitlement_gate_sync_lag_versions");
  uses("EntitlementGateNoConnectedFilters", "entitlement_gate_sync_clients");
  uses("EntitlementGateShadowDisagreements", "entitlement_gate_shadow_disagreements");
  uses("EntitlementGateEventStreamDown", "entitlement_gate_event_stream_connected");
});

const tool = promtool();
const noPromtool = tool ? false : "promtool is not installed (apt-get install prometheus)";
if (noPromtool) console.log(`# skipping the promtool checks: ${noPromtool}`);

test("promtool accepts the rule file, every dashboard query, and the alert unit tests", { skip: noPromtool }, async (t) => {
  const run = (args: string[]): string => {
    try {
      return execFileSync(tool!, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      assert.fail(`promtool ${args.join(" ")} failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
  };
  assert.match(run(["check", "rules", ALERTS]), /SUCCESS: \d+ rules found/);

  // Grafana's variables replaced by what they stand for, each query as a recording rule.
  const dir = await mkdtemp(join(tmpdir(), "eg-promtool-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const recorded = dashboardExprs.map(({ expr }, i) => ({
    record: `dashboard:query_${i}`,
    expr: expr.replaceAll("$__rate_interval", "5m").replace(/\$\w+/g, ".*"),
  }));
  const file = join(dir, "dashboard-queries.yaml");
  await writeFile(file, JSON.stringify({ groups: [{ name: "dashboard", rules: recorded }] }));
  assert.match(run(["check", "rules", file]), new RegExp(`SUCCESS: ${recorded.length} rules found`));

  assert.ok(existsSync(ALERT_TESTS), "observability/prometheus/alerts.test.yaml is missing");
  assert.match(run(["test", "rules", ALERT_TESTS]), /SUCCESS/);
});
