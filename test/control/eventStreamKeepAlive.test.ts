// EVENT_STREAM_PING_MS / EVENT_STREAM_PONG_TIMEOUT_MS reach the Stigg event stream: an open but silent
// stream is given up after ping + pong and reconnected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { StiggUpstream } from "../../control/upstream/stigg/stiggUpstream.ts";
import { startStiggEmulator } from "../stigg/emulator.ts";
import { ACME } from "./stiggUpstreamHarness.ts";
import { startLoopbackControlPlane } from "./support/loopbackControlPlane.ts";
import { stiggUpstreamSettings } from "../stigg/upstreamSettings.ts";

test("a silent event stream is reconnected after the configured ping and pong times", async (t) => {
  const stigg = await startStiggEmulator({ customers: { acme: ACME } });
  t.after(() => stigg.close());
  const cp = await startLoopbackControlPlane(t, {
    ...stiggUpstreamSettings(stigg),
    eventStreamPingMs: 1_000,
    eventStreamPongTimeoutMs: 500,
  });
  assert.ok(cp.source instanceof StiggUpstream);
  const stream = cp.source.stream;
  await stigg.waitUntil(() => stream?.healthy === true, 5_000, "the event stream");
  await stigg.waitForSubscription("entitlementsUpdatedV2", 1);
  stigg.setFault("ws", { silent: true });
  const silentAt = Date.now();
  // With the defaults (10 s + 5 s) this would take 15 s; here it must be about 1.5 s.
  await stigg.waitUntil(() => stream?.healthy === false, 4_000, "the silent stream given up");
  const gaveUpAfter = Date.now() - silentAt;
  // At least the pong wait (the ping may fall due right after the silence starts), at most ping + pong + slack.
  assert.ok(gaveUpAfter >= 500 && gaveUpAfter < 4_000, `gave up after ${gaveUpAfter} ms`);
  stigg.clearFaults();
  await stigg.waitUntil(() => stream?.healthy === true, 5_000, "the stream back");
});
