// The sync role's work, independent of which root context runs it (the singleton `entitlement_sync`, or
// the `entitlement_gate` worker holding the lease): hold the Subscribe stream to the control plane and
// write what it receives into shared data (the only writer there besides miss fetches), and drain the
// usage queue into batched ReportUsage calls.
//
// Generations: a snapshot writes every entry with gen + 1 and then eg1/sync/gen, so entries the snapshot
// did not mention (shared data cannot delete keys) read as absent afterwards. Deltas write the current
// generation (or the pending one while a snapshot is still arriving, so they stay visible after it).
import { BufferType, Status } from "../binding/constants";
import { getBufferBytes } from "../binding/buffers";
import { getSharedData, setSharedData } from "../binding/sharedData";
import { GrpcStart, grpcCall, grpcCancel, grpcSend, grpcStream, lastStatusMessage } from "../binding/grpc";
import { Metric, counter, gauge } from "../binding/metrics";
import { dequeueSharedQueue, registerSharedQueue } from "../binding/queues";
import { logDebug, logError, logInfo, logWarn } from "../binding/log";
import { signalDone } from "../binding/lifecycle";
import { nowMillis, nowNanos } from "../binding/time";
import { SyncConfig } from "../logic/syncConfig";
import {
  MessageKind, REPORT_USAGE_METHOD, SUBSCRIBE_METHOD, SYNC_SERVICE, SyncMessage, decodeSyncMessage, encodeSubscribeRequest,
  encodeUsageReport,
} from "../logic/syncMessages";
import {
  SYNC_AT_KEY, SYNC_GEN_KEY, SYNC_STATE_KEY, entryKey, formatSyncState, generationValue, parseSyncState, readU32,
  u32Bytes, u64Bytes,
} from "../logic/sharedKeys";

export const USAGE_QUEUE_NAME = "eg1/usage";
/** A stream silent for this many heartbeat intervals is considered dead. */
const DEAD_STREAM_HEARTBEATS: i64 = 3;
const REPORT_TIMEOUT_MS: u32 = 5000;
const GRPC_UNAUTHENTICATED: u32 = 16;
const GRPC_DEADLINE_EXCEEDED: u32 = 4;
/** Increments kept for retry while the control plane is unreachable; older ones are dropped beyond it. */
const MAX_HELD_INCREMENTS: i32 = 100000;
/**
 * How long a torn-down sync role keeps its VM alive for the final usage report. A control plane that
 * answers at all acknowledges a report in milliseconds; past 2 s it is down or stuck, and waiting longer
 * only keeps the old VM (and, for a lease holder, the stream it already cancelled) around during a config
 * reload or drain without making the report more likely to land.
 */
export const FINAL_REPORT_BOUND_MS: i64 = 2000;

export namespace Teardown {
  export const NONE: i32 = 0;
  /** proxy_on_done ran and the final report is out: the root must not call proxy_done yet. */
  export const REPORTING: i32 = 1;
  /** Nothing left to wait for. */
  export const SETTLED: i32 = 2;
}

export class SyncMetrics {
  messages: Metric = counter("entitlement_sync_messages");
  reconnects: Metric = counter("entitlement_sync_reconnects");
  errors: Metric = counter("entitlement_sync_errors");
  version: Metric = gauge("entitlement_sync_version");
  connected: Metric = gauge("entitlement_sync_connected");
  stalenessMs: Metric = gauge("entitlement_sync_staleness_ms");
  usageReported: Metric = counter("entitlement_sync_usage_reported");
  usageReportErrors: Metric = counter("entitlement_sync_usage_report_errors");
  usageDropped: Metric = counter("entitlement_sync_usage_dropped");
  leaseAcquired: Metric = counter("entitlement_sync_lease_acquired");
  leaseLost: Metric = counter("entitlement_sync_lease_lost");
}

export class SyncEngine {
  running: bool = false;
  /** Token of the open stream; 0 when none. */
  streamToken: u32 = 0;
  /** When to open the next stream (unix ms); 0 when no reconnect is scheduled. */
  reconnectAtMs: i64 = 0;
  failedAttempts: u32 = 0;
  lastMessageAtMs: i64 = 0;
  heartbeatIntervalMs: u32 = 0;
  snapshotInProgress: bool = false;
  pendingGeneration: u32 = 0;
  queueId: i64 = -1;
  /** Encoded UsageIncrement messages waiting for the next report. */
  held: ArrayBuffer[] = [];
  firstHeldAtMs: i64 = 0;
  /** The ReportUsage call in flight (0 = none) and what it carries, to put back on failure. */
  reportToken: u32 = 0;
  inFlight: ArrayBuffer[] = [];
  teardown: i32 = Teardown.NONE;
  /** While REPORTING: when the final report is given up (unix ms). */
  teardownDeadlineMs: i64 = 0;
  /** beginTeardown answered false for the root: it owes proxy_done once the final report settles. */
  private doneOwed: bool = false;
  private jitterState: u32 = 0;

  constructor(public config: SyncConfig, public metrics: SyncMetrics, public name: string) {}

  /** Takes the role: registers the usage queue and opens the stream. */
  start(): void {
    this.running = true;
    this.jitterState = <u32>(nowNanos() & 0xffffffff) | 1;
    // Re-registering moves delivery to this VM and keeps queued items (a new lease holder picks them up).
    this.queueId = registerSharedQueue(USAGE_QUEUE_NAME);
    if (this.queueId < 0) logWarn(this.name + ": cannot register the usage queue " + USAGE_QUEUE_NAME);
    this.failedAttempts = 0;
    this.connect();
  }

  /** Gives the role up (lease lost or reconfiguration). Held usage is reported first when possible. */
  stop(): void {
    if (!this.running) return;
    this.drainQueue();
    this.flushUsage(nowMillis(), true);
    this.running = false;
    if (this.streamToken != 0) grpcCancel(this.streamToken);
    this.streamToken = 0;
    this.reconnectAtMs = 0;
    this.metrics.connected.record(0);
  }

  reconfigure(config: SyncConfig): void {
    this.config = config;
    if (!this.running) return;
    if (this.streamToken != 0) grpcCancel(this.streamToken);
    this.streamToken = 0;
    this.failedAttempts = 0;
    this.connect();
  }

  /**
   * The plugin is being torn down (root proxy_on_done): stop the stream and send what was drained from
   * the usage queue but not yet acknowledged, plus what is still queued, in one last report (batches of
   * usageBatchSize, one after the other). True when nothing is left to report (the root may go at once);
   * false while the report is out: it settles on its acknowledgement, on its failure or at
   * FINAL_REPORT_BOUND_MS, dropping (counted, one warning) whatever was not acknowledged.
   */
  beginTeardown(now: i64): bool {
    if (this.teardown != Teardown.NONE) return this.teardown == Teardown.SETTLED;
    if (this.running) {
      // Records still queued would otherwise wait for a sync role that may never come back.
      this.drainQueue();
      if (this.streamToken != 0) grpcCancel(this.streamToken);
      this.metrics.connected.record(0);
    }
    this.running = false;
    this.streamToken = 0;
    this.reconnectAtMs = 0;
    if (this.held.length == 0 && this.reportToken == 0) {
      this.teardown = Teardown.SETTLED;
      return true;
    }
    this.teardown = Teardown.REPORTING;
    this.teardownDeadlineMs = now + FINAL_REPORT_BOUND_MS;
    logInfo(this.name + ": torn down; reporting " + (this.held.length + this.inFlight.length).toString() + " usage increment(s) before going");
    // A report already out (normal flush) is awaited first; its acknowledgement sends the rest.
    if (this.reportToken == 0) this.sendFinalBatch(now);
    this.doneOwed = this.teardown != Teardown.SETTLED;
    return !this.doneOwed;
  }

  /**
   * Calls proxy_done once the final report has settled, if beginTeardown deferred the root's done. The
   * root calls it at the end of each of its own callbacks (where the effective context is the root).
   */
  signalDoneWhenSettled(): void {
    if (!this.doneOwed || this.teardown == Teardown.REPORTING) return;
    this.doneOwed = false;
    signalDone();
  }

  private sendFinalBatch(now: i64): void {
    const remainingMs = this.teardownDeadlineMs - now;
    if (this.held.length == 0) {
      this.settleTeardown("");
      return;
    }
    if (remainingMs <= 0) {
      this.settleTeardown("no acknowledgement within " + FINAL_REPORT_BOUND_MS.toString() + " ms");
      return;
    }
    // The call's own timeout ends it at the bound; the tick is the backstop.
    const status = this.startReport(<u32>remainingMs);
    if (status != Status.OK) this.settleTeardown("cannot start ReportUsage: status " + status.toString());
  }

  /** Ends the teardown wait: whatever is not acknowledged now never will be. */
  private settleTeardown(reason: string): void {
    if (this.reportToken != 0) grpcCancel(this.reportToken);
    this.reportToken = 0;
    const dropped = this.inFlight.length + this.held.length;
    this.inFlight = [];
    this.held = [];
    this.firstHeldAtMs = 0;
    this.teardown = Teardown.SETTLED;
    if (dropped == 0) return;
    this.metrics.usageDropped.increment(<i64>dropped);
    logWarn(this.name + ": torn down with " + dropped.toString() + " usage increment(s) the control plane did not acknowledge; dropped (" + reason + ")");
  }

  owns(token: u32): bool {
    return token != 0 && (token == this.streamToken || token == this.reportToken);
  }

  tick(now: i64): void {
    if (this.teardown == Teardown.REPORTING && now >= this.teardownDeadlineMs) {
      this.settleTeardown("no acknowledgement within " + FINAL_REPORT_BOUND_MS.toString() + " ms");
    }
    if (!this.running) {
      // A former holder (lease lost while a report was out, or the report failed) still hands over what it
      // took from the queue, on the holder's flush rules; nothing else. Otherwise that usage would wait
      // until this worker held the lease again.
      if (this.teardown == Teardown.NONE && this.held.length > 0) this.flushUsage(now, false);
      return;
    }
    const metrics = this.metrics;
    const at = readU64(getSharedData(SYNC_AT_KEY).value);
    if (at > 0) metrics.stalenessMs.record(<u64>max<i64>(0, now - <i64>at));
    this.drainQueue();
    this.flushUsage(now, false);
    if (this.streamToken != 0) {
      const interval = <i64>this.heartbeatIntervalMs;
      if (interval > 0 && now - this.lastMessageAtMs > DEAD_STREAM_HEARTBEATS * interval) {
        logWarn(this.name + ": no message for " + (now - this.lastMessageAtMs).toString() + " ms; reconnecting");
        metrics.errors.increment();
        grpcCancel(this.streamToken);
        this.streamToken = 0;
        metrics.connected.record(0);
        this.scheduleReconnect(now);
      }
      return;
    }
    if (this.reconnectAtMs != 0 && now >= this.reconnectAtMs) {
      metrics.reconnects.increment();
      this.connect();
    }
  }

  private connect(): void {
    const config = this.config;
    const metrics = this.metrics;
    this.reconnectAtMs = 0;
    this.snapshotInProgress = false;
    const stateValue = getSharedData(SYNC_STATE_KEY).value;
    const state = parseSyncState(stateValue === null ? "" : String.UTF8.decode(stateValue));
    const started: GrpcStart = grpcStream(config.cluster, SYNC_SERVICE, SUBSCRIBE_METHOD, config.grpcMetadata);
    if (!started.ok) {
      logWarn(this.name + ": cannot open the stream to cluster " + config.cluster + ": status " + started.status.toString());
      metrics.errors.increment();
      this.scheduleReconnect(nowMillis());
      return;
    }
    this.streamToken = started.token;
    // The clock for dead-stream detection starts now, not at the last message of a previous stream.
    this.lastMessageAtMs = nowMillis();
    const request = encodeSubscribeRequest(config.nodeId, state.epoch, state.version);
    const sent = grpcSend(started.token, request, true);
    if (sent != 0) {
      logWarn(this.name + ": cannot send the subscribe request: status " + sent.toString());
      metrics.errors.increment();
      grpcCancel(started.token);
      this.streamToken = 0;
      this.scheduleReconnect(nowMillis());
      return;
    }
    logInfo(this.name + ": subscribed (resume " + (state.epoch.length == 0 ? "none" : formatSyncState(state.epoch, state.version)) +
      (config.hasAuthToken ? ", bearer token" : "") + ")");
  }

  private nextJitter(): u32 {
    // xorshift32: jitter only needs to spread reconnects, not be unpredictable.
    let x = this.jitterState;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    this.jitterState = x;
    return x;
  }

  /** Exponential backoff between reconnectMinMs and reconnectMaxMs, jittered to half..full. */
  backoffMs(): u32 {
    const config = this.config;
    let ceiling = <u64>config.reconnectMinMs;
    for (let i: u32 = 0; i < this.failedAttempts && ceiling < <u64>config.reconnectMaxMs; i++) ceiling *= 2;
    if (ceiling > <u64>config.reconnectMaxMs) ceiling = <u64>config.reconnectMaxMs;
    const half = ceiling / 2;
    let delay = half + <u64>this.nextJitter() % (ceiling - half + 1);
    if (delay < <u64>config.reconnectMinMs) delay = <u64>config.reconnectMinMs;
    return <u32>delay;
  }

  private scheduleReconnect(now: i64): void {
    const delay = this.backoffMs();
    this.failedAttempts++;
    this.reconnectAtMs = now + <i64>delay;
    logDebug(this.name + ": reconnecting in " + delay.toString() + " ms");
  }

  onGrpcReceive(token: u32, messageSize: u32): void {
    const metrics = this.metrics;
    if (token == this.reportToken) {
      // Success of a unary call arrives only as its message.
      this.reportToken = 0;
      metrics.usageReported.increment(<i64>this.inFlight.length);
      this.inFlight = [];
      if (this.teardown == Teardown.REPORTING) this.sendFinalBatch(nowMillis());
      return;
    }
    if (token != this.streamToken) return;
    const bytes = getBufferBytes(BufferType.GRPC_RECEIVE_BUFFER, 0, messageSize);
    let message: SyncMessage | null = null;
    if (bytes !== null) message = decodeSyncMessage(bytes);
    if (message === null) {
      logError(this.name + ": undecodable message (" + messageSize.toString() + " bytes); reconnecting");
      metrics.errors.increment();
      grpcCancel(token);
      this.streamToken = 0;
      metrics.connected.record(0);
      this.scheduleReconnect(nowMillis());
      return;
    }
    this.apply(message, metrics);
  }

  private apply(message: SyncMessage, metrics: SyncMetrics): void {
    const kind = message.kind;
    if (kind == MessageKind.SNAPSHOT) {
      if (!this.snapshotInProgress) {
        this.pendingGeneration = readU32(getSharedData(SYNC_GEN_KEY).value) + 1;
        this.snapshotInProgress = true;
      }
      this.writeEntries(message, this.pendingGeneration, metrics);
      if (message.snapshotComplete) {
        this.write(SYNC_GEN_KEY, u32Bytes(this.pendingGeneration), metrics);
        this.snapshotInProgress = false;
        logInfo(this.name + ": snapshot applied (generation " + this.pendingGeneration.toString() + ", version " + message.version.toString() + ")");
      }
    } else if (kind == MessageKind.DELTA) {
      const generation = this.snapshotInProgress ? this.pendingGeneration : readU32(getSharedData(SYNC_GEN_KEY).value);
      this.writeEntries(message, generation, metrics);
    } else if (kind != MessageKind.HEARTBEAT) {
      logDebug(this.name + ": ignoring a message of unknown kind " + kind.toString());
    }
    const now = nowMillis();
    // Resuming from the middle of a snapshot would skip its remainder, so the resume point only moves
    // once the store is consistent.
    if (!this.snapshotInProgress && message.epoch.length > 0) {
      this.write(SYNC_STATE_KEY, String.UTF8.encode(formatSyncState(message.epoch, message.version)), metrics);
    }
    this.write(SYNC_AT_KEY, u64Bytes(<u64>now), metrics);
    this.lastMessageAtMs = now;
    if (message.heartbeatIntervalMs > 0) this.heartbeatIntervalMs = message.heartbeatIntervalMs;
    this.failedAttempts = 0;
    metrics.messages.increment();
    metrics.version.record(message.version);
    metrics.connected.record(1);
    metrics.stalenessMs.record(0);
  }

  /** cas 0: the sync role is the only writer of these keys. A refused write is logged and counted. */
  private write(key: string, value: ArrayBuffer, metrics: SyncMetrics): void {
    const status = setSharedData(key, value, 0);
    if (status != Status.OK) {
      logWarn(this.name + ": proxy_set_shared_data(" + key + ") returned status " + status.toString());
      metrics.errors.increment();
    }
  }

  private writeEntries(message: SyncMessage, generation: u32, metrics: SyncMetrics): void {
    const entries = message.entries;
    for (let i = 0; i < entries.length; i++) {
      const entry = unchecked(entries[i]);
      if (entry.customerId.length == 0) continue;
      const key = entryKey(entry.customerId, entry.resourceId);
      // A removal is an empty value: absent for readers (shared data has no delete).
      const value = entry.valueLength == 0
        ? new ArrayBuffer(0)
        : generationValue(generation, message.buffer, entry.valueStart, entry.valueLength);
      this.write(key, value, metrics);
    }
  }

  onGrpcClose(token: u32, statusCode: u32): void {
    if (token == this.reportToken) {
      this.reportToken = 0;
      if (this.teardown == Teardown.REPORTING) {
        // No later report to keep them for, and a retry would likely fail the same way within the bound.
        this.metrics.usageReportErrors.increment();
        this.settleTeardown(statusCode == GRPC_DEADLINE_EXCEEDED
          ? "no acknowledgement within " + FINAL_REPORT_BOUND_MS.toString() + " ms"
          : "ReportUsage failed with gRPC status " + statusCode.toString() + this.authHint(statusCode));
        return;
      }
      logWarn(this.name + ": ReportUsage failed with gRPC status " + statusCode.toString() + this.authHint(statusCode) + "; keeping " + this.inFlight.length.toString() + " increment(s) for the next report");
      this.metrics.usageReportErrors.increment();
      // Back in front, in order, for the next flush.
      this.hold(this.inFlight.concat(this.held));
      this.inFlight = [];
      if (this.held.length > 0 && this.firstHeldAtMs == 0) this.firstHeldAtMs = nowMillis();
      return;
    }
    if (token != this.streamToken) return;
    this.streamToken = 0;
    this.metrics.connected.record(0);
    const detail = lastStatusMessage();
    logWarn(this.name + ": stream closed with gRPC status " + statusCode.toString() + (detail.length > 0 ? " (" + detail + ")" : "") +
      this.authHint(statusCode));
    if (statusCode != 0) this.metrics.errors.increment();
    if (this.running) this.scheduleReconnect(nowMillis());
  }

  /** Names the likely cause of UNAUTHENTICATED (the control plane's SYNC_AUTH_TOKEN), never the token. */
  private authHint(statusCode: u32): string {
    if (statusCode != GRPC_UNAUTHENTICATED) return "";
    return this.config.hasAuthToken
      ? "; the control plane refused authToken (does it match SYNC_AUTH_TOKEN?)"
      : "; the control plane requires a bearer token: set authToken";
  }

  onQueueReady(queueId: u32): void {
    if (!this.running || <i64>queueId != this.queueId) return;
    this.drainQueue();
    this.flushUsage(nowMillis(), false);
  }

  private hold(items: ArrayBuffer[]): void {
    const excess = items.length - MAX_HELD_INCREMENTS;
    if (excess > 0) {
      this.metrics.usageDropped.increment(<i64>excess);
      items = items.slice(excess);
    }
    this.held = items;
  }

  private drainQueue(): void {
    if (this.queueId < 0) return;
    const id = <u32>this.queueId;
    while (true) {
      const item = dequeueSharedQueue(id);
      if (item === null) break;
      if (item.byteLength == 0) continue;
      if (this.held.length == 0) this.firstHeldAtMs = nowMillis();
      if (this.held.length >= MAX_HELD_INCREMENTS) {
        this.metrics.usageDropped.increment();
        continue;
      }
      this.held.push(item);
    }
  }

  /** One ReportUsage in flight at a time: a full batch goes at once, a partial one after usageFlushMs. */
  private flushUsage(now: i64, force: bool): void {
    if (this.reportToken != 0 || this.held.length == 0) return;
    const config = this.config;
    if (!force && this.held.length < <i32>config.usageBatchSize && now - this.firstHeldAtMs < <i64>config.usageFlushMs) return;
    const status = this.startReport(REPORT_TIMEOUT_MS);
    if (status != Status.OK) {
      logDebug(this.name + ": cannot start ReportUsage: status " + status.toString());
      return;
    }
    this.firstHeldAtMs = this.held.length > 0 ? now : 0;
  }

  /** Sends the first usageBatchSize held increments as one ReportUsage; returns the host status. */
  private startReport(timeoutMs: u32): i32 {
    const config = this.config;
    const count = min<i32>(this.held.length, <i32>config.usageBatchSize);
    const batch = this.held.slice(0, count);
    const report = encodeUsageReport(config.nodeId, batch);
    const started = grpcCall(config.cluster, SYNC_SERVICE, REPORT_USAGE_METHOD, config.grpcMetadata, report, timeoutMs);
    if (!started.ok) {
      this.metrics.usageReportErrors.increment();
      return started.status;
    }
    this.reportToken = started.token;
    this.inFlight = batch;
    this.held = this.held.slice(count);
    return Status.OK;
  }
}

function readU64(value: ArrayBuffer | null): u64 {
  if (value === null || value.byteLength < 8) return 0;
  return load<u64>(changetype<usize>(value));
}
