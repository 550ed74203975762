// The FilterSync service (proto/entitlementgate/sync/v1/sync.proto): Subscribe, FetchCustomer,
// ReportUsage, served from the versioned store.
import * as grpc from "@grpc/grpc-js";
import { encodeEntry } from "../codec/entryCodec.ts";
import type { Logger } from "../log.ts";
import type { EntitlementReader } from "../read/readTypes.ts";
import { MAX_ID_BYTES } from "../api/requestValidation.ts";
import type { EntitlementStore } from "../store/entitlementStore.ts";
import type { UsageForwarder } from "../usage/usageForwarder.ts";
import { DEFAULT_CHUNK_LIMITS, Subscription, type ChunkLimits } from "./subscription.ts";
import type {
  FetchCustomerRequest,
  FetchCustomerResponse,
  SubscribeRequest,
  SyncMessageOut,
  UsageIncrement,
  UsageReport,
  UsageReportAck,
} from "./syncProto.ts";

export interface SyncServiceOptions {
  store: EntitlementStore;
  logger: Logger;
  heartbeatMs: number;
  /** Snapshot and delta chunking; defaults to 1,000 entries or 1 MiB per message. */
  chunkLimits?: ChunkLimits;
  /** Stigg mode: FetchCustomer reads through the upstream reader instead of the store alone. */
  reader?: EntitlementReader;
  /**
   * Stigg mode: the filters' usage goes to Stigg (summed, batched); Stigg's acknowledgement updates
   * the store. Without it (offline file) usage is applied to the store directly.
   */
  usageForwarder?: UsageForwarder;
}

function invalidArgument(details: string): Partial<grpc.StatusObject> {
  return { code: grpc.status.INVALID_ARGUMENT, details };
}

/** The first problem with an increment, as `increments[i].field: why`, or undefined. */
function incrementProblem(increment: UsageIncrement, index: number): string | undefined {
  const at = `increments[${index}]`;
  if (!increment.customerId) return `${at}.customer_id: must not be empty`;
  if (!increment.featureId) return `${at}.feature_id: must not be empty`;
  if (!Number.isFinite(increment.delta)) return `${at}.delta: must be a finite number, got ${increment.delta}`;
  return undefined;
}

export class SyncService {
  private readonly store: EntitlementStore;
  private readonly logger: Logger;
  private readonly heartbeatMs: number;
  private readonly chunkLimits: ChunkLimits;
  private readonly subscriptions = new Set<Subscription>();
  private readonly reader: EntitlementReader | undefined;
  private readonly usageForwarder: UsageForwarder | undefined;
  private blockedWrites = 0;

  constructor(options: SyncServiceOptions) {
    this.store = options.store;
    this.logger = options.logger.child({ component: "sync" });
    this.heartbeatMs = options.heartbeatMs;
    this.chunkLimits = options.chunkLimits ?? DEFAULT_CHUNK_LIMITS;
    this.reader = options.reader;
    this.usageForwarder = options.usageForwarder;
  }

  /** Connected Subscribe streams (for metrics). */
  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  /** Store versions the furthest-behind connected filter has not been sent yet (0 with none connected). */
  get maxLagVersions(): number {
    let lag = 0;
    for (const subscription of this.subscriptions) lag = Math.max(lag, this.lagOf(subscription));
    return lag;
  }

  /** Each connected filter by node id with the store versions it has not been sent yet (the status page). */
  filterDetails(): { nodeId: string; lagVersions: number }[] {
    return [...this.subscriptions].map((subscription) => ({ nodeId: subscription.nodeId, lagVersions: this.lagOf(subscription) }));
  }

  private lagOf(subscription: { sentVersion: number }): number {
    return this.store.version - subscription.sentVersion;
  }

  /** Handlers to pass to `server.addService(filterSyncServiceDefinition(), ...)`. */
  handlers(): grpc.UntypedServiceImplementation {
    return {
      Subscribe: (call: grpc.ServerWritableStream<SubscribeRequest, SyncMessageOut>) => this.subscribe(call),
      FetchCustomer: (
        call: grpc.ServerUnaryCall<FetchCustomerRequest, FetchCustomerResponse>,
        callback: grpc.sendUnaryData<FetchCustomerResponse>,
      ) => this.fetchCustomer(call, callback),
      ReportUsage: (call: grpc.ServerUnaryCall<UsageReport, UsageReportAck>, callback: grpc.sendUnaryData<UsageReportAck>) =>
        this.reportUsage(call, callback),
    };
  }

  /** Times a Subscribe stream pushed back since start (backpressure; for later metrics). */
  get backpressureEvents(): number {
    return this.blockedWrites;
  }

  /** Ends every Subscribe stream (shutdown). */
  endAll(): void {
    for (const subscription of [...this.subscriptions]) subscription.end();
  }

  private subscribe(call: grpc.ServerWritableStream<SubscribeRequest, SyncMessageOut>): void {
    const subscription = new Subscription(call, {
      store: this.store,
      logger: this.logger,
      heartbeatMs: this.heartbeatMs,
      limits: this.chunkLimits,
      onClose: (s) => this.subscriptions.delete(s),
      onBlocked: () => this.blockedWrites++,
    });
    this.subscriptions.add(subscription);
    subscription.start();
  }

  private fetchCustomer(
    call: grpc.ServerUnaryCall<FetchCustomerRequest, FetchCustomerResponse>,
    callback: grpc.sendUnaryData<FetchCustomerResponse>,
  ): void {
    const { customerId, resourceId } = call.request;
    if (!customerId) {
      callback(invalidArgument("customer_id: must not be empty"));
      return;
    }
    // The Sidecar API's bound: a longer id is no Stigg customer, and in Stigg mode it would cost an Edge
    // request that can only fail (a 64 KiB id makes a URL Edge refuses).
    for (const [field, id] of [["customer_id", customerId], ["resource_id", resourceId ?? ""]] as const) {
      const bytes = Buffer.byteLength(id, "utf8");
      if (bytes > MAX_ID_BYTES) {
        callback(invalidArgument(`${field}: must be at most ${MAX_ID_BYTES} bytes (got ${bytes})`));
        return;
      }
    }
    if (this.reader) {
      this.fetchThroughReader(this.reader, call, callback);
      return;
    }
    const found = this.store.get(customerId, resourceId || undefined);
    let bytes = found?.bytes;
    if (!bytes) {
      // A known customer asked for an unknown resource is told so; an unknown customer is not found.
      const customerKnown = resourceId ? this.store.get(customerId) !== undefined : false;
      bytes = encodeEntry({
        customerId,
        ...(resourceId ? { resourceId } : {}),
        accessDeniedReason: customerKnown ? "CustomerResourceNotFound" : "CustomerNotFound",
        entitlements: [],
      });
    }
    callback(null, {
      entry: { customerId, resourceId: resourceId ?? "", value: Buffer.from(bytes) },
      version: this.store.version,
      epoch: this.store.epoch,
    });
  }

  private fetchThroughReader(
    reader: EntitlementReader,
    call: grpc.ServerUnaryCall<FetchCustomerRequest, FetchCustomerResponse>,
    callback: grpc.sendUnaryData<FetchCustomerResponse>,
  ): void {
    const { customerId, resourceId } = call.request;
    const cancelled = new AbortController();
    call.once("cancelled", () => cancelled.abort());
    reader.read(customerId, resourceId || undefined, { signal: cancelled.signal }).then(
      (result) => {
        if (!result.entry) {
          // The filter answers from its fallbacks, as for any failed fetch.
          callback({ code: grpc.status.UNAVAILABLE, details: `entitlements unavailable: ${result.error ?? "upstream unreachable"}` });
          return;
        }
        callback(null, {
          entry: { customerId, resourceId: resourceId ?? "", value: Buffer.from(encodeEntry(result.entry)) },
          version: this.store.version,
          epoch: this.store.epoch,
        });
      },
      (error: unknown) => callback({ code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) }),
    );
  }

  private reportUsage(call: grpc.ServerUnaryCall<UsageReport, UsageReportAck>, callback: grpc.sendUnaryData<UsageReportAck>): void {
    const increments = call.request.increments ?? [];
    // Validate the whole batch first so a bad report changes nothing.
    for (const [index, increment] of increments.entries()) {
      const problem = incrementProblem(increment, index);
      if (problem) {
        callback(invalidArgument(problem));
        return;
      }
    }
    if (this.usageForwarder) {
      const accepted = this.usageForwarder.add(
        increments.map((i) => ({ customerId: i.customerId, ...(i.resourceId ? { resourceId: i.resourceId } : {}), featureId: i.featureId, delta: i.delta })),
      );
      callback(null, { accepted });
      return;
    }
    let accepted = 0;
    for (const increment of increments) {
      const result = this.store.addUsage(increment.customerId, increment.resourceId || undefined, increment.featureId, increment.delta);
      if (result === "applied") accepted++;
      else {
        this.logger.debug({ nodeId: call.request.nodeId, customerId: increment.customerId, featureId: increment.featureId, result }, "usage increment ignored");
      }
    }
    callback(null, { accepted });
  }
}
