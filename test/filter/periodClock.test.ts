// Metered features with a usage period need the time only to tell whether the period has ended. Far
// from the end the filter decides with its last clock reading (refreshed every 50 ms tick) and makes no
// clock call; within a minute of the end it reads the clock. Either way the period rolls over exactly
// when the clock passes its end.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, ManualClock, type HttpFilter, type HttpResult } from "../host/index.ts";
import type { FeatureEntitlement } from "../../control/model/entitlements.ts";
import { RELEASE_WASM } from "./support/builtWasm.ts";
import { seedCache } from "./support/cacheSeed.ts";

const VM_ID = "eg";
const DAY_MS = 86_400_000;
const START_MS = Date.parse("2026-06-15T12:00:00Z");

function monthly(limit: number, usage: number, periodEndMs: number): FeatureEntitlement {
  return {
    featureId: "search", featureType: "NUMBER", meterType: "Incremental", usageLimit: limit, hasUnlimitedUsage: false,
    hasSoftLimit: false, currentUsage: usage, resetPeriod: "MONTH", usagePeriodAnchor: Date.parse("2026-01-01T00:00:00Z"),
    usagePeriodStart: periodEndMs - 30 * DAY_MS, usagePeriodEnd: periodEndMs,
  };
}

const req = (customer: string): { headers: Array<[string, string]>; worker: number } => ({
  headers: [[":method", "GET"], [":path", "/search"], [":authority", "shop.example"], ["x-customer-id", customer]],
  worker: 0,
});

function kind(result: HttpResult): string {
  return result.kind === "localReply" ? `deny ${result.status}` : result.kind;
}

describe("usage periods and the clock", () => {
  let clock: ManualClock;
  let host: EnvoyHost;
  let filter: HttpFilter;

  before(async () => {
    clock = new ManualClock(START_MS);
    host = new EnvoyHost({ clock });
    filter = await host.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1,
      configuration: JSON.stringify({ rules: [{ pathPrefix: "/search", feature: "search", requestedUsage: 1 }] }),
    });
    assert.deepEqual(filter.configureResults, [true]);
    seedCache(host, VM_ID, [
      { customerId: "far", entitlements: [monthly(100, 10, START_MS + 20 * DAY_MS)] },
      { customerId: "near", entitlements: [monthly(100, 10, START_MS + 30_000)] },
      { customerId: "spent-near", entitlements: [monthly(5, 5, START_MS + 30_000)] },
      { customerId: "spent-later", entitlements: [monthly(5, 5, START_MS + 90_000)] },
    ]);
  });
  after(async () => {
    await host.close();
  });

  it("makes no clock call far from the period's end and one within a minute of it", () => {
    const far = filter.requestSync(req("far"));
    const near = filter.requestSync(req("near"));
    assert.equal(kind(far), "continue");
    assert.equal(kind(near), "continue");
    assert.equal(near.hostCalls - far.hostCalls, 1, `far: ${far.hostCalls} calls, near: ${near.hostCalls}`);
  });

  it("rolls a period over as soon as the clock passes its end, near or far when last read", async () => {
    assert.equal(kind(filter.requestSync(req("spent-near"))), "deny 429");
    assert.equal(kind(filter.requestSync(req("spent-later"))), "deny 429");
    await clock.advance(29_000);
    assert.equal(kind(filter.requestSync(req("spent-near"))), "deny 429");
    await clock.advance(1_000);
    assert.equal(kind(filter.requestSync(req("spent-near"))), "continue");
    await clock.advance(59_999);
    assert.equal(kind(filter.requestSync(req("spent-later"))), "deny 429");
    await clock.advance(1);
    assert.equal(kind(filter.requestSync(req("spent-later"))), "continue");
  });
});
