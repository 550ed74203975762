// The sync role (root_id entitlement_sync) on a singleton service VM, subscribed over real HTTP/2 to a
// tiny control plane in the test; the HTTP filter on the same vm_id reads what it writes.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, ManualClock, type HttpFilter, type ServicePlugin } from "../host/index.ts";
import { Kind, encodeEntry, withGeneration, u32le } from "./support/entryBytes.ts";
import { MessageKind, encodeSyncMessage } from "./support/syncWire.ts";
import { SyncServer, waitFor } from "./support/syncServer.ts";
import { loadFilterWasm } from "./support/builtWasm.ts";

const VM_ID = "entitlements";
const START_MS = Date.parse("2026-11-25T12:00:00Z");
const reports = encodeEntry({ features: [{ id: "reports", kind: Kind.BOOLEAN }] });
const noReports = encodeEntry({ features: [{ id: "other", kind: Kind.BOOLEAN }] });

interface Rig {
  host: EnvoyHost;
  clock: ManualClock;
  server: SyncServer;
  sync: ServicePlugin;
  gate: HttpFilter;
}

async function startRig(syncConfig: Record<string, unknown> = {}): Promise<Rig> {
  const server = new SyncServer();
  await server.listen();
  const clock = new ManualClock(START_MS);
  const host = new EnvoyHost({ clock, clusters: { control_plane: { host: "127.0.0.1", port: server.port } } });
  const wasm = loadFilterWasm();
  const sync = await host.addSingletonService({
    vmId: VM_ID, rootId: "entitlement_sync", wasm,
    configuration: JSON.stringify({ cluster: "control_plane", nodeId: "envoy-test", reconnectMinMs: 200, reconnectMaxMs: 1000, ...syncConfig }),
  });
  const gate = await host.addHttpFilter({
    vmId: VM_ID, rootId: "entitlement_gate", wasm, workers: 1,
    configuration: JSON.stringify({ rules: [{ pathPrefix: "/api/reports", feature: "reports" }] }),
  });
  return { host, clock, server, sync, gate };
}

async function stopRig(rig: Rig | undefined): Promise<void> {
  if (rig === undefined) return;
  await rig.host.close();
  await rig.server.close();
}

function value(rig: Rig, key: string): Uint8Array | undefined {
  return rig.host.sharedData(VM_ID).get(key)?.value;
}

function u32At(bytes: Uint8Array | undefined): number | undefined {
  return bytes === undefined || bytes.length < 4 ? undefined : new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
}

async function decision(rig: Rig, customer: string): Promise<string> {
  const result = await rig.gate.request({
    headers: [[":method", "GET"], [":path", "/api/reports"], [":authority", "x"], ["x-customer-id", customer]],
  });
  if (result.kind === "continue") return "allow";
  return `${result.status} ${(JSON.parse(result.body) as { reason: string }).reason}`;
}

describe("entitlement_sync role", () => {
  let rig: Rig | undefined;
  beforeEach(async () => {
    rig = await startRig();
  });
  afterEach(async () => {
    await stopRig(rig);
    rig = undefined;
  });

  it("subscribes on configure with the node id and no resume point", async () => {
    const r = rig!;
    assert.equal(r.sync.configureResult, true);
    const stream = await r.server.stream(0);
    assert.deepEqual(await stream.subscribeRequest(), { nodeId: "envoy-test", resumeEpoch: "", resumeVersion: 0n });
    assert.equal(stream.headers["content-type"], "application/grpc");
  });

  it("applies a chunked snapshot: entries first, the generation once complete", async () => {
    const r = rig!;
    const stream = await r.server.stream(0);
    stream.send(encodeSyncMessage({ kind: MessageKind.SNAPSHOT, version: 4, epoch: "ep-1", entries: [{ customerId: "acme", value: reports }] }));
    await waitFor(() => value(r, "eg1/c/acme") !== undefined, "first chunk");
    assert.deepEqual(value(r, "eg1/c/acme"), withGeneration(1, reports));
    assert.equal(value(r, "eg1/sync/gen"), undefined);
    assert.equal(value(r, "eg1/sync/state"), undefined, "no resume point in the middle of a snapshot");

    stream.send(encodeSyncMessage({
      kind: MessageKind.SNAPSHOT, version: 5, epoch: "ep-1", snapshotComplete: true,
      entries: [{ customerId: "globex", value: noReports }, { customerId: "acme", resourceId: "proj-1", value: reports }],
    }));
    await waitFor(() => value(r, "eg1/sync/gen") !== undefined, "snapshot completion");
    assert.deepEqual(value(r, "eg1/sync/gen"), u32le(1));
    assert.deepEqual(value(r, "eg1/c/globex"), withGeneration(1, noReports));
    assert.deepEqual(value(r, "eg1/r/4/acmeproj-1"), withGeneration(1, reports));
    assert.equal(Buffer.from(value(r, "eg1/sync/state")!).toString(), "ep-1 5");
    const at = value(r, "eg1/sync/at")!;
    assert.equal(new DataView(at.buffer, at.byteOffset).getBigUint64(0, true), BigInt(START_MS));
    assert.equal(r.host.metric("entitlement_sync_messages"), 2);
    assert.equal(r.host.metric("entitlement_sync_version"), 5);

    assert.equal(await decision(r, "acme"), "allow");
    assert.equal(await decision(r, "globex"), "403 NoFeatureEntitlementInSubscription");
    assert.equal(await decision(r, "initech"), "403 Unknown");
  });

  it("applies deltas with the current generation, including removals", async () => {
    const r = rig!;
    const stream = await r.server.stream(0);
    stream.send(encodeSyncMessage({
      kind: MessageKind.SNAPSHOT, version: 1, epoch: "ep", snapshotComplete: true,
      entries: [{ customerId: "acme", value: reports }, { customerId: "globex", value: reports }],
    }));
    await waitFor(() => value(r, "eg1/sync/gen") !== undefined, "snapshot");
    stream.send(encodeSyncMessage({
      kind: MessageKind.DELTA, version: 2, epoch: "ep",
      entries: [{ customerId: "globex", value: new Uint8Array(0) }, { customerId: "initech", value: reports }, { customerId: "acme", value: noReports }],
    }));
    await waitFor(() => value(r, "eg1/c/initech") !== undefined, "delta");
    assert.deepEqual(value(r, "eg1/c/globex"), new Uint8Array(0));
    assert.deepEqual(value(r, "eg1/c/initech"), withGeneration(1, reports));
    assert.equal(Buffer.from(value(r, "eg1/sync/state")!).toString(), "ep 2");
    assert.equal(await decision(r, "globex"), "403 Unknown");
    assert.equal(await decision(r, "initech"), "allow");
    assert.equal(await decision(r, "acme"), "403 NoFeatureEntitlementInSubscription");
  });

  it("reconnects after the server closes the stream, resuming from the stored state", async () => {
    const r = rig!;
    const first = await r.server.stream(0);
    first.send(encodeSyncMessage({ kind: MessageKind.SNAPSHOT, version: 9, epoch: "ep-9", snapshotComplete: true, entries: [{ customerId: "acme", value: reports }] }));
    await waitFor(() => value(r, "eg1/sync/gen") !== undefined, "snapshot");
    first.end(14, "going away");
    await waitFor(() => r.host.logs().some((l) => /stream closed with gRPC status 14/.test(l.message)), "close seen by the plugin");
    assert.equal(r.server.streams.length, 1, "no reconnect before the backoff");
    await r.clock.advance(1000);
    const second = await r.server.stream(1);
    assert.deepEqual(await second.subscribeRequest(), { nodeId: "envoy-test", resumeEpoch: "ep-9", resumeVersion: 9n });
    assert.equal(r.host.metric("entitlement_sync_reconnects"), 1);
    assert.equal(r.host.metric("entitlement_sync_errors"), 1);
  });

  it("hides customers a newer snapshot no longer contains", async () => {
    const r = rig!;
    const first = await r.server.stream(0);
    first.send(encodeSyncMessage({
      kind: MessageKind.SNAPSHOT, version: 1, epoch: "old", snapshotComplete: true,
      entries: [{ customerId: "acme", value: reports }, { customerId: "globex", value: reports }],
    }));
    await waitFor(() => value(r, "eg1/sync/gen") !== undefined, "first snapshot");
    assert.equal(await decision(r, "globex"), "allow");
    first.end(0);
    await waitFor(() => r.host.logs().some((l) => /stream closed/.test(l.message)), "close");
    await r.clock.advance(1000);
    const second = await r.server.stream(1);
    await second.subscribeRequest();
    second.send(encodeSyncMessage({ kind: MessageKind.SNAPSHOT, version: 1, epoch: "new", snapshotComplete: true, entries: [{ customerId: "acme", value: reports }] }));
    await waitFor(() => u32At(value(r, "eg1/sync/gen")) === 2, "second snapshot");
    assert.equal(await decision(r, "acme"), "allow");
    assert.equal(await decision(r, "globex"), "403 Unknown");
  });

  it("cancels and reconnects on an undecodable message, counting an error", async () => {
    const r = rig!;
    const first = await r.server.stream(0);
    await first.subscribeRequest();
    first.send(Uint8Array.from([0x0f, 0xff, 0xff]));
    await first.closed;
    assert.equal(r.host.metric("entitlement_sync_errors"), 1);
    assert.ok(r.host.logs().some((l) => l.level >= 4 && /undecodable message/.test(l.message)));
    assert.equal(r.sync.vm.failed, false);
    await r.clock.advance(1000);
    await r.server.stream(1);
    assert.equal(r.host.metric("entitlement_sync_reconnects"), 1);
  });

  it("treats a stream silent for three heartbeat intervals as dead", async () => {
    const r = rig!;
    const first = await r.server.stream(0);
    first.send(encodeSyncMessage({ kind: MessageKind.HEARTBEAT, version: 0, epoch: "ep", heartbeatIntervalMs: 1000 }));
    await waitFor(() => (r.host.metric("entitlement_sync_messages") ?? 0) === 1, "heartbeat");
    await r.clock.advance(2900);
    assert.equal(first.destroyed, false, "still alive within 3 intervals");
    await r.clock.advance(300);
    await first.closed;
    await r.clock.advance(1000);
    await r.server.stream(1);
    assert.equal(r.host.metric("entitlement_sync_reconnects"), 1);
  });

  it("applies a large snapshot in chunks", async () => {
    const r = rig!;
    const stream = await r.server.stream(0);
    const customers = Array.from({ length: 4000 }, (_, i) => `customer-${i}`);
    for (let chunk = 0; chunk < 4; chunk++) {
      stream.send(encodeSyncMessage({
        kind: MessageKind.SNAPSHOT, version: 100, epoch: "big", snapshotComplete: chunk === 3,
        entries: customers.slice(chunk * 1000, chunk * 1000 + 1000).map((customerId) => ({ customerId, value: reports })),
      }));
    }
    await waitFor(() => value(r, "eg1/sync/gen") !== undefined, "snapshot completion", 5000);
    assert.equal(customers.every((c) => value(r, `eg1/c/${c}`)?.length === reports.length + 4), true);
    assert.equal(await decision(r, "customer-3999"), "allow");
    assert.equal(r.sync.vm.failed, false);
  });

  it("starts a new stream with the new settings on reconfigure", async () => {
    const r = rig!;
    const first = await r.server.stream(0);
    await first.subscribeRequest();
    assert.equal(r.sync.reconfigure(JSON.stringify({ cluster: "control_plane", nodeId: "renamed" })), true);
    await first.closed;
    const second = await r.server.stream(1);
    assert.equal((await second.subscribeRequest()).nodeId, "renamed");
    assert.equal(r.sync.reconfigure("{}"), false);
  });

  it("keeps retrying with backoff while the control plane is unreachable", async () => {
    const r = rig!;
    await r.server.stream(0);
    r.host.setCluster("control_plane", { host: "127.0.0.1", port: 1 });
    r.server.streams[0]!.end(14);
    await waitFor(() => r.host.logs().some((l) => /stream closed/.test(l.message)), "close");
    for (let i = 0; i < 5; i++) {
      await r.clock.advance(1000);
      await waitFor(() => r.host.logs().filter((l) => /stream closed/.test(l.message)).length >= i + 2, `failure ${i + 2}`);
    }
    assert.ok((r.host.metric("entitlement_sync_reconnects") ?? 0) >= 5);
    r.host.setCluster("control_plane", { host: "127.0.0.1", port: r.server.port });
    await r.clock.advance(1000);
    await r.server.stream(1);
  });
});

describe("entitlement_sync configuration", () => {
  it("rejects a configuration without a cluster, naming the field", async () => {
    const host = new EnvoyHost();
    try {
      const sync = await host.addSingletonService({ vmId: "v", rootId: "entitlement_sync", wasm: loadFilterWasm(), configuration: "{}" });
      assert.equal(sync.configureResult, false);
      const errors = host.logs().filter((l) => l.level >= 4);
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /cluster: required/);
    } finally {
      await host.close();
    }
  });

  it("rejects unknown fields", async () => {
    const host = new EnvoyHost();
    try {
      const sync = await host.addSingletonService({
        vmId: "v", rootId: "entitlement_sync", wasm: loadFilterWasm(), configuration: '{"cluster":"cp","poll_ms":5000}',
      });
      assert.equal(sync.configureResult, false);
      assert.match(host.logs().find((l) => l.level >= 4)?.message ?? "", /poll_ms: unknown field/);
    } finally {
      await host.close();
    }
  });
});

