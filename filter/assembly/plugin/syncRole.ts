// The sync role (root_id `entitlement_sync`, on a `singleton: true` bootstrap VM): holds the Subscribe
// stream to the control plane and writes what it receives into shared data, the only writer there.
//
// Generations: a snapshot writes every entry with gen + 1 and then eg1/sync/gen, so entries the snapshot
// did not mention (shared data cannot delete keys) read as absent afterwards. Deltas write the current
// generation (or the pending one while a snapshot is still arriving, so they stay visible after it).
import { RootContext } from "../binding/contexts";
import { BufferType, Status } from "../binding/constants";
import { getBufferBytes } from "../binding/buffers";
import { getSharedData, setSharedData } from "../binding/sharedData";
import { GrpcStart, grpcCancel, grpcSend, grpcStream, lastStatusMessage } from "../binding/grpc";
import { Metric, counter, gauge } from "../binding/metrics";
import { logDebug, logError, logInfo, logWarn, refreshLogLevel } from "../binding/log";
import { nowMillis, nowNanos, setTickPeriodMs } from "../binding/time";
import { SyncConfig, parseSyncConfig } from "../logic/syncConfig";
import { MessageKind, SUBSCRIBE_METHOD, SYNC_SERVICE, SyncMessage, decodeSyncMessage, encodeSubscribeRequest } from "../logic/syncMessages";
import {
  SYNC_AT_KEY, SYNC_GEN_KEY, SYNC_STATE_KEY, entryKey, formatSyncState, generationValue, parseSyncState, readU32,
  u32Bytes, u64Bytes,
} from "../logic/sharedKeys";

export const SYNC_ROOT_ID = "entitlement_sync";

const TICK_MS: u32 = 100;
/** A stream silent for this many heartbeat intervals is considered dead. */
const DEAD_STREAM_HEARTBEATS: i64 = 3;

class SyncMetrics {
  messages: Metric = counter("entitlement_sync_messages");
  reconnects: Metric = counter("entitlement_sync_reconnects");
  errors: Metric = counter("entitlement_sync_errors");
  version: Metric = gauge("entitlement_sync_version");
}

export class SyncRoot extends RootContext {
  config: SyncConfig | null = null;
  metrics: SyncMetrics | null = null;
  /** Token of the open stream; 0 when none. */
  streamToken: u32 = 0;
  /** When to open the next stream (unix ms); 0 when no reconnect is scheduled. */
  reconnectAtMs: i64 = 0;
  failedAttempts: u32 = 0;
  lastMessageAtMs: i64 = 0;
  heartbeatIntervalMs: u32 = 0;
  snapshotInProgress: bool = false;
  pendingGeneration: u32 = 0;
  private jitterState: u32 = 0;

  onConfigure(configurationSize: u32): bool {
    refreshLogLevel();
    const bytes = getBufferBytes(BufferType.PLUGIN_CONFIGURATION, 0, configurationSize);
    const parsed = parseSyncConfig(bytes === null ? new ArrayBuffer(0) : bytes);
    const config = parsed.config;
    if (config === null) {
      logError("entitlement_sync: rejected configuration: " + parsed.error);
      return false;
    }
    this.config = config;
    if (this.metrics === null) this.metrics = new SyncMetrics();
    this.jitterState = <u32>(nowNanos() & 0xffffffff) | 1;
    setTickPeriodMs(TICK_MS);
    if (this.streamToken != 0) {
      // Reconfiguration: start over with the new settings.
      grpcCancel(this.streamToken);
      this.streamToken = 0;
    }
    this.failedAttempts = 0;
    this.connect();
    return true;
  }

  onTick(): void {
    refreshLogLevel();
    const metrics = this.metrics;
    if (this.config === null || metrics === null) return;
    const now = nowMillis();
    if (this.streamToken != 0) {
      const interval = <i64>this.heartbeatIntervalMs;
      if (interval > 0 && now - this.lastMessageAtMs > DEAD_STREAM_HEARTBEATS * interval) {
        logWarn("entitlement_sync: no message for " + (now - this.lastMessageAtMs).toString() + " ms; reconnecting");
        metrics.errors.increment();
        grpcCancel(this.streamToken);
        this.streamToken = 0;
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
    if (config === null || metrics === null) return;
    this.reconnectAtMs = 0;
    this.snapshotInProgress = false;
    const stateValue = getSharedData(SYNC_STATE_KEY).value;
    const state = parseSyncState(stateValue === null ? "" : String.UTF8.decode(stateValue));
    const started: GrpcStart = grpcStream(config.cluster, SYNC_SERVICE, SUBSCRIBE_METHOD, new ArrayBuffer(0));
    if (!started.ok) {
      logWarn("entitlement_sync: cannot open the stream to cluster " + config.cluster + ": status " + started.status.toString());
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
      logWarn("entitlement_sync: cannot send the subscribe request: status " + sent.toString());
      metrics.errors.increment();
      grpcCancel(started.token);
      this.streamToken = 0;
      this.scheduleReconnect(nowMillis());
      return;
    }
    logInfo("entitlement_sync: subscribed (resume " + (state.epoch.length == 0 ? "none" : formatSyncState(state.epoch, state.version)) + ")");
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
    if (config === null) return 1000;
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
    logDebug("entitlement_sync: reconnecting in " + delay.toString() + " ms");
  }

  onGrpcReceive(token: u32, messageSize: u32): void {
    const metrics = this.metrics;
    if (metrics === null || token != this.streamToken) return;
    const bytes = getBufferBytes(BufferType.GRPC_RECEIVE_BUFFER, 0, messageSize);
    let message: SyncMessage | null = null;
    if (bytes !== null) message = decodeSyncMessage(bytes);
    if (message === null) {
      logError("entitlement_sync: undecodable message (" + messageSize.toString() + " bytes); reconnecting");
      metrics.errors.increment();
      grpcCancel(token);
      this.streamToken = 0;
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
        logInfo("entitlement_sync: snapshot applied (generation " + this.pendingGeneration.toString() + ", version " + message.version.toString() + ")");
      }
    } else if (kind == MessageKind.DELTA) {
      const generation = this.snapshotInProgress ? this.pendingGeneration : readU32(getSharedData(SYNC_GEN_KEY).value);
      this.writeEntries(message, generation, metrics);
    } else if (kind != MessageKind.HEARTBEAT) {
      logDebug("entitlement_sync: ignoring a message of unknown kind " + kind.toString());
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
  }

  /** cas 0: the sync role is the only writer. A refused write is logged and counted, never thrown. */
  private write(key: string, value: ArrayBuffer, metrics: SyncMetrics): void {
    const status = setSharedData(key, value, 0);
    if (status != Status.OK) {
      logWarn("entitlement_sync: proxy_set_shared_data(" + key + ") returned status " + status.toString());
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
    if (token != this.streamToken) return;
    this.streamToken = 0;
    const detail = lastStatusMessage();
    logWarn("entitlement_sync: stream closed with gRPC status " + statusCode.toString() + (detail.length > 0 ? " (" + detail + ")" : ""));
    const metrics = this.metrics;
    if (metrics !== null && statusCode != 0) metrics.errors.increment();
    this.scheduleReconnect(nowMillis());
  }
}

export function createSyncRoot(id: u32, rootId: string): RootContext {
  return new SyncRoot(id, rootId);
}
