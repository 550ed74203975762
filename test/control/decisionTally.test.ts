import { test } from "node:test";
import assert from "node:assert/strict";
import { Metrics } from "../../control/metrics/metrics.ts";

async function decisionSeries(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.decisions.get();
  return Object.fromEntries(values.map((v) => [`${v.labels.api}/${v.labels.result}/${v.labels.reason}`, v.value]));
}

test("decisions counted on the hot path appear in the scrape once, by api, result and reason", async () => {
  const metrics = new Metrics({ processMetrics: false });
  for (let i = 0; i < 3; i++) metrics.countDecision("sidecar", "allow", "");
  metrics.countDecision("ext_authz", "deny", "FeatureNotFound");
  metrics.countDecision("sidecar", "fallback", "");
  assert.deepEqual(await decisionSeries(metrics), { "sidecar/allow/": 3, "ext_authz/deny/FeatureNotFound": 1, "sidecar/fallback/": 1 });
  // A second read adds nothing; later decisions add to the totals.
  assert.deepEqual(await decisionSeries(metrics), { "sidecar/allow/": 3, "ext_authz/deny/FeatureNotFound": 1, "sidecar/fallback/": 1 });
  metrics.countDecision("sidecar", "allow", "");
  const text = await metrics.render();
  assert.match(text, /entitlement_gate_decisions_total\{api="sidecar",result="allow",reason=""\} 4/);
  assert.match(text, /entitlement_gate_decisions_total\{api="ext_authz",result="deny",reason="FeatureNotFound"\} 1/);
});

test("direct increments of the decisions counter and hot-path counts add up", async () => {
  const metrics = new Metrics({ processMetrics: false });
  metrics.decisions.inc({ api: "sidecar", result: "allow", reason: "" }, 10);
  metrics.countDecision("sidecar", "allow", "");
  assert.deepEqual(await decisionSeries(metrics), { "sidecar/allow/": 11 });
});
