import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, MetricType, Status } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";
import { Op, probe } from "./fixtures/opsProbe.ts";

async function setup() {
  const host = new EnvoyHost();
  const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("ops"), configuration: "", workers: 2 });
  return { host, filter };
}

test("a counter defined in several VMs is one stat summed across them", async () => {
  const { host, filter } = await setup();
  try {
    const id0 = probe(filter, Op.defineMetric, { "x-type": MetricType.COUNTER, "x-name": "eg_decisions_total" }, 0)["x-id"];
    const id1 = probe(filter, Op.defineMetric, { "x-type": MetricType.COUNTER, "x-name": "eg_decisions_total" }, 1)["x-id"];
    assert.equal(id0, "0", "Envoy's first counter id is 0: the low two bits of an id are its type");
    assert.equal(probe(filter, Op.incrementMetric, { "x-id": id0!, "x-delta": 2 }, 0)["x-status"], "0");
    assert.equal(probe(filter, Op.incrementMetric, { "x-id": id1!, "x-delta": 3 }, 1)["x-status"], "0");
    assert.equal(host.metric("eg_decisions_total"), 5);
    assert.equal(host.metric("wasmcustom.eg_decisions_total"), 5);
    assert.equal(probe(filter, Op.getMetric, { "x-id": id0! }, 0)["x-value"], "5");
    assert.deepEqual(host.metrics().get("eg_decisions_total"), { type: "counter", value: 5 });
  } finally {
    await host.close();
  }
});

test("counters reject a delta of zero or less with BAD_ARGUMENT; gauges accept negative deltas", async () => {
  const { host, filter } = await setup();
  try {
    const c = probe(filter, Op.defineMetric, { "x-type": MetricType.COUNTER, "x-name": "c" }, 0)["x-id"]!;
    assert.equal(probe(filter, Op.incrementMetric, { "x-id": c, "x-delta": 0 }, 0)["x-status"], String(Status.BAD_ARGUMENT));
    assert.equal(probe(filter, Op.incrementMetric, { "x-id": c, "x-delta": -1 }, 0)["x-status"], String(Status.BAD_ARGUMENT));
    const g = probe(filter, Op.defineMetric, { "x-type": MetricType.GAUGE, "x-name": "g" }, 0)["x-id"]!;
    probe(filter, Op.incrementMetric, { "x-id": g, "x-delta": 5 }, 0);
    probe(filter, Op.incrementMetric, { "x-id": g, "x-delta": -2 }, 0);
    assert.equal(host.metric("g"), 3);
    assert.equal(probe(filter, Op.recordMetric, { "x-id": g, "x-value": 42 }, 0)["x-status"], "0");
    assert.equal(host.metric("g"), 42, "record sets a gauge");
  } finally {
    await host.close();
  }
});

test("histograms record samples; unknown ids answer NOT_FOUND; a bad type is BAD_ARGUMENT; kinds do not share stats", async () => {
  const { host, filter } = await setup();
  try {
    const h = probe(filter, Op.defineMetric, { "x-type": MetricType.HISTOGRAM, "x-name": "latency_us" }, 0)["x-id"]!;
    assert.equal(Number(h) & 3, MetricType.HISTOGRAM);
    probe(filter, Op.recordMetric, { "x-id": h, "x-value": 10 }, 0);
    probe(filter, Op.recordMetric, { "x-id": h, "x-value": 30 }, 0);
    assert.deepEqual(host.metrics().get("latency_us"), { type: "histogram", value: 40, samples: [10, 30] });
    assert.equal(probe(filter, Op.incrementMetric, { "x-id": h, "x-delta": 1 }, 0)["x-status"], String(Status.BAD_ARGUMENT));
    assert.equal(probe(filter, Op.getMetric, { "x-id": h }, 0)["x-status"], String(Status.BAD_ARGUMENT));
    assert.equal(probe(filter, Op.incrementMetric, { "x-id": 996, "x-delta": 1 }, 0)["x-status"], String(Status.NOT_FOUND));
    assert.equal(probe(filter, Op.recordMetric, { "x-id": 997, "x-value": 1 }, 0)["x-status"], String(Status.NOT_FOUND));
    assert.equal(probe(filter, Op.defineMetric, { "x-type": 7, "x-name": "bad" }, 0)["x-status"], String(Status.BAD_ARGUMENT));
    const g = probe(filter, Op.defineMetric, { "x-type": MetricType.GAUGE, "x-name": "latency_us" }, 1)["x-id"]!;
    probe(filter, Op.recordMetric, { "x-id": g, "x-value": 5 }, 1);
    assert.deepEqual(host.metrics().get("latency_us#gauge"), { type: "gauge", value: 5 });
  } finally {
    await host.close();
  }
});
