// One Subscribe stream: a snapshot (or the deltas since a resume point), then coalesced deltas and
// heartbeats. Writes stop while the stream's buffer is full and resume on 'drain'; changes made in
// the meantime are coalesced per entry, so a slow subscriber costs memory bounded by the store size.
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "../log.ts";
import type { EntitlementStore } from "../store/entitlementStore.ts";
import type { StoreChange, StoredEntry } from "../store/storeTypes.ts";
import type { MessageKind, SubscribeRequest, SyncMessageOut, WireEntry } from "./syncProto.ts";

export interface ChunkLimits {
  maxEntries: number;
  maxBytes: number;
}

export const DEFAULT_CHUNK_LIMITS: ChunkLimits = { maxEntries: 1000, maxBytes: 1024 * 1024 };

/** Field tags and length prefixes around an entry; an estimate is enough to stay near the limit. */
const ENTRY_OVERHEAD_BYTES = 16;

function toWire(item: StoredEntry | StoreChange): WireEntry {
  return { customerId: item.customerId, resourceId: item.resourceId ?? "", value: Buffer.from(item.bytes.buffer, item.bytes.byteOffset, item.bytes.byteLength) };
}

function chunk(entries: WireEntry[], limits: ChunkLimits): WireEntry[][] {
  const chunks: WireEntry[][] = [];
  let current: WireEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entry.value.length + Buffer.byteLength(entry.customerId) + Buffer.byteLength(entry.resourceId) + ENTRY_OVERHEAD_BYTES;
    if (current.length > 0 && (current.length >= limits.maxEntries || bytes + size > limits.maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0 || chunks.length === 0) chunks.push(current);
  return chunks;
}

export interface SubscriptionOptions {
  store: EntitlementStore;
  logger: Logger;
  heartbeatMs: number;
  limits: ChunkLimits;
  onClose: (subscription: Subscription) => void;
  /** Called each time the stream pushes back (write() returned false). */
  onBlocked?: () => void;
}

type Stream = grpc.ServerWritableStream<SubscribeRequest, SyncMessageOut>;

export class Subscription {
  readonly nodeId: string;
  private readonly store: EntitlementStore;
  private readonly logger: Logger;
  private readonly options: SubscriptionOptions;
  /** Prepared messages (snapshot or resume chunks) not yet written. */
  private readonly queue: SyncMessageOut[] = [];
  /** Changes not yet sent, latest per entry. */
  private readonly pending = new Map<string, StoreChange>();
  private lastSentVersion = 0;
  private blocked = false;
  private flushScheduled = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  /** The store version this filter has been sent everything up to. */
  get sentVersion(): number {
    return this.lastSentVersion;
  }

  constructor(
    private readonly call: Stream,
    options: SubscriptionOptions,
  ) {
    this.options = options;
    this.store = options.store;
    this.nodeId = call.request.nodeId || "(unnamed)";
    this.logger = options.logger;
  }

  start(): void {
    const { store } = this;
    const request = this.call.request;
    const resumeVersion = Number(request.resumeVersion || "0");
    const resumable =
      request.resumeEpoch === store.epoch && Number.isSafeInteger(resumeVersion) && resumeVersion > 0
        ? store.changesSince(resumeVersion)
        : undefined;
    // Taking the starting point and registering the listener in the same synchronous step means no
    // change can fall between them.
    if (resumable) {
      this.lastSentVersion = resumeVersion;
      for (const change of resumable) this.pending.set(change.key, change);
      this.logger.info({ nodeId: this.nodeId, resumeVersion, deltas: resumable.length, version: store.version }, "filter subscribed (resuming)");
    } else {
      this.queueSnapshot(store.all(), store.version);
      this.logger.info(
        { nodeId: this.nodeId, entries: store.size, version: store.version, resumeEpoch: request.resumeEpoch || undefined, resumeVersion: resumeVersion || undefined },
        "filter subscribed (snapshot)",
      );
    }
    this.unsubscribe = store.onChange((changes) => this.onChanges(changes));
    for (const event of ["cancelled", "close", "error", "finish"] as const) this.call.on(event, () => this.dispose());

    this.pump();
    // A resume with nothing to catch up on still confirms where the subscriber stands.
    if (resumable && resumable.length === 0) this.send("MESSAGE_KIND_HEARTBEAT", [], this.lastSentVersion);
  }

  /** Ends the stream from the server side (shutdown). */
  end(): void {
    if (this.closed) return;
    this.dispose();
    this.call.end();
  }

  private queueSnapshot(entries: StoredEntry[], version: number): void {
    const chunks = chunk(entries.map(toWire), this.options.limits);
    chunks.forEach((entriesOfChunk, i) => {
      this.queue.push(this.message("MESSAGE_KIND_SNAPSHOT", entriesOfChunk, version, i === chunks.length - 1));
    });
  }

  private message(kind: MessageKind, entries: WireEntry[], version: number, snapshotComplete = false): SyncMessageOut {
    return {
      kind,
      version,
      epoch: this.store.epoch,
      entries,
      sentAtUnixMs: 0,
      snapshotComplete,
      heartbeatIntervalMs: this.options.heartbeatMs,
    };
  }

  private onChanges(changes: readonly StoreChange[]): void {
    for (const change of changes) {
      this.pending.delete(change.key); // keep the map in version order
      this.pending.set(change.key, change);
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Everything changed in this event-loop turn goes out as one message.
    setImmediate(() => {
      this.flushScheduled = false;
      this.pump();
    });
  }

  /** Writes queued messages, then pending changes, until the stream pushes back. */
  private pump(): void {
    while (!this.closed && !this.blocked) {
      const next = this.queue.shift();
      if (next) {
        this.write(next);
        continue;
      }
      if (this.pending.size === 0) break;
      this.queuePendingDeltas();
    }
  }

  private queuePendingDeltas(): void {
    const changes = [...this.pending.values()];
    this.pending.clear();
    const finalVersion = changes.reduce((max, c) => Math.max(max, c.version), this.lastSentVersion);
    const chunks = chunk(changes.map(toWire), this.options.limits);
    // Only the last chunk may claim the new version: a subscriber that loses the stream halfway
    // must resume from a version whose changes it has all applied.
    chunks.forEach((entries, i) => {
      this.queue.push(this.message("MESSAGE_KIND_DELTA", entries, i === chunks.length - 1 ? finalVersion : this.lastSentVersion));
    });
  }

  private send(kind: MessageKind, entries: WireEntry[], version: number): void {
    if (this.closed || this.blocked) return;
    this.write(this.message(kind, entries, version));
  }

  private write(message: SyncMessageOut): void {
    message.sentAtUnixMs = Date.now();
    this.lastSentVersion = message.version;
    const ok = this.call.write(message);
    this.armHeartbeat();
    if (!ok) {
      this.blocked = true;
      this.options.onBlocked?.();
      this.logger.debug({ nodeId: this.nodeId, version: message.version }, "subscriber stream is full; waiting for drain");
      this.call.once("drain", () => {
        this.blocked = false;
        this.pump();
      });
    }
  }

  private armHeartbeat(): void {
    clearTimeout(this.heartbeat);
    if (this.closed) return;
    this.heartbeat = setTimeout(() => {
      // A blocked stream already has data in flight; the heartbeat would only add to it.
      if (this.blocked) this.armHeartbeat();
      else this.send("MESSAGE_KIND_HEARTBEAT", [], this.lastSentVersion);
    }, this.options.heartbeatMs);
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.heartbeat);
    this.unsubscribe?.();
    this.queue.length = 0;
    this.pending.clear();
    this.logger.info({ nodeId: this.nodeId, version: this.lastSentVersion }, "filter unsubscribed");
    this.options.onClose(this);
  }
}
