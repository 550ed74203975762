// The HTTP filter (root_id `entitlement_gate`, one VM per Envoy worker). Per request it reads the headers
// once, strips client-supplied x-entitlement-* (and configured) headers, finds the rule, reads the
// customer's entry from shared data and continues (adding the configured x-entitlement-* headers) or
// answers locally. A customer absent from shared data is fetched from the control plane while the request
// waits (one call per customer per worker) or decided by the fallback table. The root context may also
// hold the sync role, through the lease, when the configuration has a `sync` section.
import { RootContext, StreamContext, findStream } from "../binding/contexts";
import { Action, BufferType, MapType, Status } from "../binding/constants";
import { getBufferBytes } from "../binding/buffers";
import { HeaderMapView } from "../binding/headerMapCodec";
import { addHeaderRaw, readHeaderMapInto, removeHeaderRaw, replaceHeader } from "../binding/headers";
import { getSharedDataRaw, readSharedDataInto, setSharedData } from "../binding/sharedData";
import { HostScratch } from "../binding/memory";
import { grpcCall, grpcCancel } from "../binding/grpc";
import { sendLocalReplyRaw } from "../binding/localReply";
import { enqueueSharedQueueRaw, resolveSharedQueueRaw } from "../binding/queues";
import { getPropertyString } from "../binding/properties";
import { continueRequest, setEffectiveContext } from "../binding/streamControl";
import { logDebug, logError, logInfo, logWarn, refreshLogLevel } from "../binding/log";
import { nowMillis, setTickPeriodMs } from "../binding/time";
import { GateConfig, IdSource, InjectHeader, parseGateConfig } from "../logic/gateConfig";
import { GateRule, RequestTarget, matchRequest } from "../logic/rules";
import { startsWithBytes } from "../logic/byteReader";
import { Feature, FeatureKind, FeatureLookup, lookupFeatureInto } from "../logic/entryDecoder";
import { ByteReader } from "../logic/byteReader";
import { ByteBuilder, isAscii } from "../logic/byteBuilder";
import { ProtoWriter } from "../logic/protobuf";
import { Decision, evaluateInto } from "../logic/evaluate";
import { Reason, reasonName } from "../logic/reasons";
import { renderDenyBody } from "../logic/denyResponses";
import { claimFromPayloadHeader } from "../logic/jwtClaim";
import { UsageLedger } from "../logic/usageLedger";
import {
  FETCH_CUSTOMER_METHOD, SYNC_SERVICE, SyncEntry, decodeFetchCustomerResponse, encodeFetchCustomerRequest, encodeUsageIncrement,
  writeUsageIncrement,
} from "../logic/syncMessages";
import {
  CUSTOMER_KEY_PREFIX, GENERATION_BYTES, RESOURCE_KEY_PREFIX, SYNC_AT_KEY, SYNC_GEN_KEY, entryKey, generationValue, readU32,
} from "../logic/sharedKeys";
import { GateMetrics } from "./gateMetrics";
import { SyncEngine, SyncMetrics, USAGE_QUEUE_NAME } from "./syncEngine";
import { LeaderLease, newHolderId } from "./leaderLease";

export const GATE_ROOT_ID = "entitlement_gate";

const PATH_HEADER = String.UTF8.encode(":path");
const METHOD_HEADER = String.UTF8.encode(":method");
const AUTHORITY_HEADER = String.UTF8.encode(":authority");
const STRIPPED_PREFIX = String.UTF8.encode("x-entitlement-");
const DECISION_HEADER = String.UTF8.encode("x-entitlement-decision");
const CUSTOMER_HEADER = String.UTF8.encode("x-entitlement-customer");
const FEATURE_HEADER = String.UTF8.encode("x-entitlement-feature");
const REMAINING_HEADER = String.UTF8.encode("x-entitlement-remaining");
const FALLBACK_HEADER = String.UTF8.encode("x-entitlement-fallback");
const SHADOW_HEADER = String.UTF8.encode("x-entitlement-shadow-decision");
const ALLOW_VALUE = String.UTF8.encode("allow");
const TRUE_VALUE = String.UTF8.encode("true");
const FALSE_VALUE = String.UTF8.encode("false");
const CUSTOMER_PREFIX = String.UTF8.encode(CUSTOMER_KEY_PREFIX);
const RESOURCE_PREFIX = String.UTF8.encode(RESOURCE_KEY_PREFIX);
const EMPTY = new ArrayBuffer(0);
const USAGE_QUEUE_NAME_BYTES = String.UTF8.encode(USAGE_QUEUE_NAME);
const GEN_KEY = String.UTF8.encode(SYNC_GEN_KEY);
const AT_KEY = String.UTF8.encode(SYNC_AT_KEY);
const DENY_DETAILS = String.UTF8.encode("entitlement_denied");
/** The root's tick: miss deadlines, the lease/sync role and the per-request counters' flush need it. */
const TICK_MS: u32 = 50;
/** Distinct customers fetched at once per worker; a miss beyond it goes to the fallback at once. */
const MAX_PENDING_FETCHES: i32 = 1024;
/**
 * How far from a usage period's end the last clock reading still decides "not ended yet" without a new
 * one. The root's 50 ms tick refreshes that reading on the same worker thread that runs the requests, so
 * it lags the clock by far less than this while requests are being served.
 */
const CLOCK_SLACK_MS: i64 = 60_000;
const GRPC_UNAUTHENTICATED: u32 = 16;
/** Deleted stream objects a worker keeps for reuse. */
const MAX_FREE_STREAMS: i32 = 64;

// Reused by every request of this VM, so the hit path allocates nothing. A VM runs one callback at a time
// and a request is decided within one callback (a paused one keeps its ids in its own buffers), so one
// set is enough. Each holds its bytes only until the next request.
const headerScratch = new HostScratch(1024);
const headerView = new HeaderMapView(EMPTY);
const requestTarget = new RequestTarget();
const genScratch = new HostScratch(16);
const atScratch = new HostScratch(16);
const entryScratch = new HostScratch(512);
const scratchEntryKey = new ByteBuilder(128);
const scratchLedgerKey = new ByteBuilder(128);
const scratchHeaderValue = new ByteBuilder(32);
const entryReader = new ByteReader(EMPTY, 0, 0);
const featureLookup = new FeatureLookup();
const lookedUpFeature = new Feature();
const scratchDecision = new Decision();
const usageRecord = new ProtoWriter();
/**
 * UsageLedger.hashKey of scratchLedgerKey. decideFromEntry() builds both for a metered feature and the
 * finish() of the same decision, which always follows it directly, adds the request's usage under them.
 */
let ledgerKeyHash: u32 = 0;

/** Requests waiting for one FetchCustomer call. */
class PendingFetch {
  streamIds: u32[] = [];
  constructor(public key: string, public customerId: string, public resourceId: string, public token: u32, public deadlineMs: i64) {}
}

export class GateRoot extends RootContext {
  config: GateConfig | null = null;
  metrics: GateMetrics | null = null;
  ledger: UsageLedger = new UsageLedger();
  vmId: string = "";
  /** `vmId` in UTF-8, for resolving the usage queue without encoding it on every request. */
  vmIdBytes: ArrayBuffer = new ArrayBuffer(0);
  usageQueueId: i64 = -1;
  pendingByKey: Map<string, PendingFetch> = new Map<string, PendingFetch>();
  pendingByToken: Map<u32, PendingFetch> = new Map<u32, PendingFetch>();
  syncMetrics: SyncMetrics | null = null;
  engine: SyncEngine | null = null;
  lease: LeaderLease | null = null;
  /** An UNAUTHENTICATED FetchCustomer was logged since the last configure. */
  warnedUnauthenticated: bool = false;
  /** proxy_on_done has run: the lease is no longer competed for. */
  tearingDown: bool = false;

  onConfigure(configurationSize: u32): bool {
    refreshLogLevel();
    this.flushCounts();
    const bytes = getBufferBytes(BufferType.PLUGIN_CONFIGURATION, 0, configurationSize);
    const parsed = parseGateConfig(bytes === null ? new ArrayBuffer(0) : bytes);
    const config = parsed.config;
    if (config === null) {
      logError("entitlement_gate: rejected configuration: " + parsed.error);
      return false;
    }
    this.config = config;
    this.warnedUnauthenticated = false;
    if (this.metrics === null) this.metrics = new GateMetrics();
    const vmId = getPropertyString(["plugin_vm_id"]);
    this.vmId = vmId === null ? "" : vmId;
    this.vmIdBytes = String.UTF8.encode(this.vmId);
    this.usageQueueId = -1;
    this.knownNowMs = nowMillis();
    setTickPeriodMs(TICK_MS);
    this.configureSync(config);
    logInfo("entitlement_gate: configured with " + config.rules.length.toString() + " rule(s), customer from " +
      config.customer.describe() + (config.shadow ? ", shadow mode" : "") + (config.sync !== null ? ", sync role by lease" : "") +
      (config.missMetadata.byteLength > 0 ? ", FetchCustomer with a bearer token" : ""));
    return true;
  }

  private configureSync(config: GateConfig): void {
    const sync = config.sync;
    const engine = this.engine;
    if (sync === null) {
      if (engine !== null) engine.stop();
      const lease = this.lease;
      if (lease !== null) lease.release();
      return;
    }
    if (this.syncMetrics === null) this.syncMetrics = new SyncMetrics();
    if (engine === null) this.engine = new SyncEngine(sync, this.syncMetrics!, "entitlement_gate sync role");
    else engine.reconfigure(sync);
    if (this.lease === null) this.lease = new LeaderLease(newHolderId(), <i64>sync.leaseTtlMs);
    else this.lease!.ttlMs = <i64>sync.leaseTtlMs;
    this.checkLease(nowMillis(), true);
  }

  private checkLease(now: i64, force: bool): void {
    const lease = this.lease;
    const engine = this.engine;
    const metrics = this.syncMetrics;
    if (lease === null || engine === null || metrics === null) return;
    const holding = lease.check(now, force);
    if (holding && !engine.running) {
      logInfo("entitlement_gate: took the sync lease as " + lease.holderId);
      metrics.leaseAcquired.increment();
      engine.start();
    } else if (!holding && engine.running) {
      logWarn("entitlement_gate: lost the sync lease; stopping the sync role on this worker");
      metrics.leaseLost.increment();
      engine.stop();
    }
  }

  onTick(): void {
    this.flushCounts();
    refreshLogLevel();
    const now = nowMillis();
    this.knownNowMs = now;
    this.expireFetches(now);
    if (this.tearingDown) {
      const engine = this.engine;
      if (engine !== null) engine.tick(now);
      this.finishTeardown();
      return;
    }
    const config = this.config;
    if (config === null || config.sync === null) return;
    this.checkLease(now, false);
    const engine = this.engine;
    if (engine !== null) engine.tick(now);
  }

  /**
   * Envoy is removing the plugin (config reload, drain). A worker running the sync role reports the usage
   * it has not had acknowledged (SyncEngine.beginTeardown) and releases the lease at once, so another
   * worker takes the role on its next tick instead of after the lease expires.
   */
  onDone(): bool {
    this.flushCounts();
    this.tearingDown = true;
    const engine = this.engine;
    // Drained before the release: the next holder re-registers the queue and gets only what comes after.
    const settled = engine === null || engine.beginTeardown(nowMillis());
    const lease = this.lease;
    if (lease !== null) lease.release();
    return settled;
  }

  private finishTeardown(): void {
    const engine = this.engine;
    if (engine !== null) engine.signalDoneWhenSettled();
  }

  onDelete(): void {
    this.flushCounts();
  }

  /** Adds the per-request counts gathered since the last tick, so a tick or a VM going away loses none. */
  private flushCounts(): void {
    const metrics = this.metrics;
    if (metrics !== null) metrics.flushPending();
  }

  onGrpcReceive(token: u32, messageSize: u32): void {
    const engine = this.engine;
    if (engine !== null && engine.owns(token)) {
      engine.onGrpcReceive(token, messageSize);
      this.finishTeardown();
      return;
    }
    if (!this.pendingByToken.has(token)) return;
    const pending = this.takePending(token);
    const bytes = getBufferBytes(BufferType.GRPC_RECEIVE_BUFFER, 0, messageSize);
    let entry: SyncEntry | null = null;
    if (bytes !== null) entry = decodeFetchCustomerResponse(bytes);
    if (bytes === null || entry === null || entry.valueLength == 0) {
      logWarn("entitlement_gate: undecodable FetchCustomer answer; deciding by fallback");
      this.failPending(pending);
      return;
    }
    // Later requests on every worker hit the cache; the sync role's pushes overwrite it as usual.
    const generation = readU32(getSharedDataRaw(changetype<usize>(GEN_KEY), GEN_KEY.byteLength).value);
    setSharedData(entryKey(pending.customerId, pending.resourceId), generationValue(generation, bytes, entry.valueStart, entry.valueLength), 0);
    const ids = pending.streamIds;
    for (let i = 0; i < ids.length; i++) {
      const stream = this.waitingStream(unchecked(ids[i]));
      if (stream !== null) stream.resumeWithEntry(bytes, entry.valueStart, entry.valueStart + entry.valueLength);
    }
    setEffectiveContext(this.id);
  }

  onGrpcClose(token: u32, statusCode: u32): void {
    const engine = this.engine;
    if (engine !== null && engine.owns(token)) {
      engine.onGrpcClose(token, statusCode);
      this.finishTeardown();
      return;
    }
    if (!this.pendingByToken.has(token)) return;
    if (statusCode == GRPC_UNAUTHENTICATED && !this.warnedUnauthenticated) {
      // Once per configuration: every miss fails the same way until the token is fixed.
      this.warnedUnauthenticated = true;
      logWarn("entitlement_gate: the control plane refused FetchCustomer as UNAUTHENTICATED (" +
        (this.config!.missMetadata.byteLength > 0 ? "does onMiss.authToken or sync.authToken match SYNC_AUTH_TOKEN?" : "set onMiss.authToken") +
        "); misses are decided by the fallback");
    }
    logDebug("entitlement_gate: FetchCustomer failed with gRPC status " + statusCode.toString());
    this.failPending(this.takePending(token));
  }

  onQueueReady(queueId: u32): void {
    const engine = this.engine;
    if (engine !== null) engine.onQueueReady(queueId);
  }

  /** The last clock reading (configure, every tick, every read on a request). */
  knownNowMs: i64 = 0;

  /**
   * A time that decides whether a usage period ending at `periodEndMs` has ended exactly as the clock
   * would: the last reading while the end is more than CLOCK_SLACK_MS after it (saves a host call on
   * nearly every metered request), else a fresh reading.
   */
  timeForPeriodEnd(periodEndMs: i64): i64 {
    if (this.knownNowMs > 0 && periodEndMs - this.knownNowMs > CLOCK_SLACK_MS) return this.knownNowMs;
    return this.readClock();
  }

  readClock(): i64 {
    const now = nowMillis();
    this.knownNowMs = now;
    return now;
  }

  /** Deleted streams kept for the next requests (a stream object per request is GC work on the hot path). */
  freeStreams: GateStream[] = [];

  createStreamContext(id: u32): StreamContext {
    const free = this.freeStreams;
    if (free.length > 0) return free.pop().reuse(id);
    return new GateStream(id, this);
  }

  // ---- misses ---------------------------------------------------------------------------------

  /** Joins or starts the FetchCustomer call for this customer; false when no call could start. */
  startFetch(stream: GateStream, customerId: string, resourceId: string): bool {
    const config = this.config!;
    const metrics = this.metrics!;
    const key = customerId + "\0" + resourceId;
    if (this.pendingByKey.has(key)) {
      this.pendingByKey.get(key).streamIds.push(stream.id);
      return true;
    }
    if (this.pendingByToken.size >= MAX_PENDING_FETCHES) {
      metrics.fetchFailures.increment();
      return false;
    }
    const request = encodeFetchCustomerRequest(customerId, resourceId);
    const started = grpcCall(config.missCluster, SYNC_SERVICE, FETCH_CUSTOMER_METHOD, config.missMetadata, request, config.missTimeoutMs);
    if (!started.ok) {
      metrics.fetchFailures.increment();
      logDebug("entitlement_gate: cannot call FetchCustomer on cluster " + config.missCluster + ": status " + started.status.toString());
      return false;
    }
    metrics.fetches.increment();
    const pending = new PendingFetch(key, customerId, resourceId, started.token, nowMillis() + <i64>config.missTimeoutMs);
    pending.streamIds.push(stream.id);
    this.pendingByKey.set(key, pending);
    this.pendingByToken.set(started.token, pending);
    return true;
  }

  private takePending(token: u32): PendingFetch {
    const pending = this.pendingByToken.get(token);
    this.pendingByToken.delete(token);
    this.pendingByKey.delete(pending.key);
    return pending;
  }

  private waitingStream(id: u32): GateStream | null {
    const stream = findStream(id);
    if (stream === null || !(stream instanceof GateStream)) return null;
    const gate = changetype<GateStream>(stream);
    if (!gate.waiting || !setEffectiveContext(id)) return null;
    return gate;
  }

  private failPending(pending: PendingFetch): void {
    const metrics = this.metrics;
    if (metrics !== null) metrics.fetchFailures.increment();
    const ids = pending.streamIds;
    for (let i = 0; i < ids.length; i++) {
      const stream = this.waitingStream(unchecked(ids[i]));
      if (stream !== null) stream.resumeWithFallback();
    }
    setEffectiveContext(this.id);
  }

  /** The gRPC timeout should answer first; this makes sure no request waits past its deadline anyway. */
  private expireFetches(now: i64): void {
    if (this.pendingByToken.size == 0) return;
    const all = this.pendingByToken.values();
    for (let i = 0; i < all.length; i++) {
      const pending = unchecked(all[i]);
      if (pending.deadlineMs > now) continue;
      grpcCancel(pending.token);
      this.takePending(pending.token);
      this.failPending(pending);
    }
  }

  // ---- usage ----------------------------------------------------------------------------------

  /**
   * The usage queue's id, resolved when not known yet; -1 when nobody registered it, and then the usage
   * of this request is counted as dropped (the caller then has nothing to encode).
   */
  usageQueue(): i64 {
    if (this.usageQueueId < 0) this.usageQueueId = resolveSharedQueueRaw(this.vmIdBytes, USAGE_QUEUE_NAME_BYTES);
    if (this.usageQueueId < 0) this.metrics!.usageDropped.increment();
    return this.usageQueueId;
  }

  /** Enqueues one usage record on the queue usageQueue() returned. */
  enqueueUsage(ptr: usize, length: i32): void {
    const metrics = this.metrics!;
    const status = enqueueSharedQueueRaw(<u32>this.usageQueueId, ptr, length);
    if (status != Status.OK) {
      this.usageQueueId = -1;
      metrics.usageDropped.increment();
      return;
    }
    metrics.usageEnqueued.count();
  }
}

function keyEquals(ptr: usize, length: i32, expected: ArrayBuffer): bool {
  return length == expected.byteLength && memory.compare(ptr, changetype<usize>(expected), <usize>length) == 0;
}

function isStripped(ptr: usize, length: i32, extra: ArrayBuffer[]): bool {
  if (startsWithBytes(ptr, length, changetype<usize>(STRIPPED_PREFIX), STRIPPED_PREFIX.byteLength)) return true;
  for (let i = 0; i < extra.length; i++) if (keyEquals(ptr, length, unchecked(extra[i]))) return true;
  return false;
}

// What readId() found (module-level instead of an object per call): the id's bytes, and the buffer that
// owns them when they are not the header value itself (a JWT claim).
let foundIdPtr: usize = 0;
let foundIdLength: i32 = 0;
let foundIdOwner: ArrayBuffer | null = null;

/** The id from a header value: the bytes themselves, or a JWT payload claim; false when missing. */
function readId(source: IdSource, view: HeaderMapView, index: i32): bool {
  foundIdOwner = null;
  if (index < 0) return false;
  const ptr = view.valuePtr(index);
  const length = view.valueLength(index);
  if (length == 0) return false;
  const path = source.claimPath;
  if (path === null) {
    foundIdPtr = ptr;
    foundIdLength = length;
    return true;
  }
  const claim = claimFromPayloadHeader(ptr, length, path);
  if (claim === null || claim.length == 0) return false;
  const bytes = String.UTF8.encode(claim);
  foundIdOwner = bytes;
  foundIdPtr = changetype<usize>(bytes);
  foundIdLength = bytes.byteLength;
  return true;
}

function ownedCopy(ptr: usize, length: i32): ArrayBuffer {
  const out = new ArrayBuffer(length);
  memory.copy(changetype<usize>(out), ptr, <usize>length);
  return out;
}

export class GateStream extends StreamContext {
  rule: GateRule | null = null;
  // The customer (and resource) id bytes: in the request's header scratch while the request is decided
  // within its callback, in `customerOwner`/`resourceOwner` once it pauses (or when decoded from a JWT).
  customerPtr: usize = 0;
  customerLength: i32 = 0;
  customerOwner: ArrayBuffer | null = null;
  hasResource: bool = false;
  resourcePtr: usize = 0;
  resourceLength: i32 = 0;
  resourceOwner: ArrayBuffer | null = null;
  /** Paused for a FetchCustomer answer. */
  waiting: bool = false;
  /** For the response header: remaining quota after this request, when the feature is metered. */
  hasRemaining: bool = false;
  remaining: f64 = 0;

  constructor(id: u32, public gate: GateRoot) {
    super(id, gate);
  }

  /** A deleted stream as new for context `id` (every field back to its initial value). */
  reuse(id: u32): GateStream {
    this.id = id;
    this.rule = null;
    this.customerPtr = 0;
    this.customerLength = 0;
    this.customerOwner = null;
    this.hasResource = false;
    this.resourcePtr = 0;
    this.resourceLength = 0;
    this.resourceOwner = null;
    this.waiting = false;
    this.hasRemaining = false;
    this.remaining = 0;
    this.lastFeature = null;
    this.cachedUsage = 0;
    return this;
  }

  onDelete(): void {
    const free = this.gate.freeStreams;
    if (free.length < MAX_FREE_STREAMS) free.push(this.reuse(0));
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): i32 {
    const root = this.gate;
    const config = root.config;
    const metrics = root.metrics;
    // Unconfigured (rejected configuration never gets here in Envoy): do not interfere.
    if (config === null || metrics === null) return Action.CONTINUE;

    const headers = headerView;
    if (!readHeaderMapInto(MapType.HTTP_REQUEST_HEADERS, headerScratch, headers) || !headers.valid) {
      logDebug("entitlement_gate: request headers unreadable; passing the request on");
      return Action.CONTINUE;
    }
    const target = requestTarget;
    target.reset();
    let customerIndex = -1;
    let resourceIndex = -1;
    const customerHeader = config.customer.headerBytes;
    const resourceSource = config.resource;
    const resourceHeader = resourceSource === null ? EMPTY : resourceSource.headerBytes;
    const strip = config.stripHeaders;
    for (let i = 0; i < headers.count; i++) {
      const keyPtr = headers.keyPtr(i);
      const keyLength = headers.keyLength(i);
      if (keyLength > 0 && load<u8>(keyPtr) == 0x3a) {
        if (target.pathPtr == 0 && keyEquals(keyPtr, keyLength, PATH_HEADER)) {
          target.pathPtr = headers.valuePtr(i); target.pathLength = headers.valueLength(i);
        } else if (target.methodPtr == 0 && keyEquals(keyPtr, keyLength, METHOD_HEADER)) {
          target.methodPtr = headers.valuePtr(i); target.methodLength = headers.valueLength(i);
        } else if (target.authorityPtr == 0 && keyEquals(keyPtr, keyLength, AUTHORITY_HEADER)) {
          target.authorityPtr = headers.valuePtr(i); target.authorityLength = headers.valueLength(i);
        }
        continue;
      }
      if (customerIndex < 0 && keyEquals(keyPtr, keyLength, customerHeader)) customerIndex = i;
      else if (resourceIndex < 0 && resourceSource !== null && keyEquals(keyPtr, keyLength, resourceHeader)) resourceIndex = i;
      // Envoy removes every value of the name at once; a repeated name costs one redundant call.
      if (isStripped(keyPtr, keyLength, strip)) removeHeaderRaw(MapType.HTTP_REQUEST_HEADERS, keyPtr, keyLength);
    }

    const ruleIndex = matchRequest(config.rules, target);
    if (ruleIndex < 0) {
      metrics.unmatched.increment();
      return Action.CONTINUE;
    }
    const rule = unchecked(config.rules[ruleIndex]);
    this.rule = rule;
    if (!readId(config.customer, headers, customerIndex)) {
      if (config.allowMissingCustomer) {
        metrics.missingCustomerAllowed.increment();
        return Action.CONTINUE;
      }
      return this.finish(Decision.deny(Reason.MissingCustomerId), false, null);
    }
    this.customerPtr = foundIdPtr;
    this.customerLength = foundIdLength;
    this.customerOwner = foundIdOwner;
    if (resourceSource !== null && readId(resourceSource, headers, resourceIndex)) {
      this.hasResource = true;
      this.resourcePtr = foundIdPtr;
      this.resourceLength = foundIdLength;
      this.resourceOwner = foundIdOwner;
    }

    // The cache, unless the sync role has been silent for longer than maxStaleSeconds.
    let now: i64 = 0;
    let stale = false;
    if (config.maxStaleSeconds > 0) {
      now = root.readClock();
      readSharedDataInto(changetype<usize>(AT_KEY), AT_KEY.byteLength, atScratch);
      const atMs: i64 = atScratch.length < 8 ? 0 : <i64>load<u64>(atScratch.ptr);
      stale = <f64>(now - atMs) > config.maxStaleSeconds * 1000;
    }
    if (!stale) {
      readSharedDataInto(changetype<usize>(GEN_KEY), GEN_KEY.byteLength, genScratch);
      const currentGen: u32 = genScratch.length < 4 ? 0 : load<u32>(genScratch.ptr);
      const key = this.entryKey();
      readSharedDataInto(key.ptr, key.length, entryScratch);
      const valueLength = entryScratch.length;
      // Absent, removed, or written before the last completed snapshot and not in it: a miss.
      if (valueLength >= GENERATION_BYTES && load<u32>(entryScratch.ptr) >= currentGen) {
        const decision = this.decideFromEntry(entryScratch.buffer, GENERATION_BYTES, valueLength, now);
        if (decision !== null) return this.finish(decision, false, this.lastFeature);
        metrics.corruptEntry.increment();
        logDebug("entitlement_gate: corrupt entry for a customer; treated as a miss");
      } else if (valueLength > 0 && valueLength < GENERATION_BYTES) {
        metrics.corruptEntry.increment();
      }
    } else {
      metrics.staleMisses.increment();
    }
    metrics.misses.increment();
    if (config.fetchOnMiss) {
      this.keepIds();
      this.waiting = true;
      if (root.startFetch(this, this.customerId(), this.resourceId())) return Action.PAUSE;
      this.waiting = false;
    }
    return this.finish(this.fallbackDecision(), true, null);
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): i32 {
    const config = this.gate.config;
    if (config !== null && config.remainingResponseHeader && this.hasRemaining) {
      replaceHeader(MapType.HTTP_RESPONSE_HEADERS, "x-entitlement-remaining", formatNumber(this.remaining));
    }
    return Action.CONTINUE;
  }

  customerId(): string { return String.UTF8.decodeUnsafe(this.customerPtr, <usize>this.customerLength); }
  resourceId(): string { return this.hasResource ? String.UTF8.decodeUnsafe(this.resourcePtr, <usize>this.resourceLength) : ""; }

  /** `eg1/c/<id>`, or `eg1/r/<len>/<id><resource>`, in the per-VM scratch. */
  private entryKey(): ByteBuilder {
    const key = scratchEntryKey.reset();
    if (!this.hasResource) return key.bytes(CUSTOMER_PREFIX).raw(this.customerPtr, this.customerLength);
    return key.bytes(RESOURCE_PREFIX).decimal(this.customerLength).byte(0x2f)
      .raw(this.customerPtr, this.customerLength).raw(this.resourcePtr, this.resourceLength);
  }

  /** Copies ids still in the header scratch into buffers of their own (before the request pauses). */
  private keepIds(): void {
    if (this.customerOwner === null) {
      const owned = ownedCopy(this.customerPtr, this.customerLength);
      this.customerOwner = owned;
      this.customerPtr = changetype<usize>(owned);
    }
    if (this.hasResource && this.resourceOwner === null) {
      const owned = ownedCopy(this.resourcePtr, this.resourceLength);
      this.resourceOwner = owned;
      this.resourcePtr = changetype<usize>(owned);
    }
  }

  /** The feature the last decideFromEntry() looked at (null when the customer lacks it). */
  lastFeature: Feature | null = null;

  /**
   * Evaluates the rule's feature in an entry; null when the entry is corrupt. The decision and feature
   * are the VM's scratch objects: valid until the next decision.
   */
  private decideFromEntry(buffer: ArrayBuffer, start: i32, end: i32, now: i64): Decision | null {
    const rule = this.rule!;
    entryReader.reset(buffer, start, end);
    // Enum values are skipped: the filter never requests any, so evaluation does not read them.
    const lookup = lookupFeatureInto(featureLookup, entryReader, lookedUpFeature, rule.featureBytes, false);
    if (lookup.corrupt) return null;
    const feature = lookup.feature;
    this.lastFeature = feature;
    let nowMs = now;
    if (feature !== null && feature.kind == FeatureKind.METERED) {
      // The clock costs a host call: only metered features with a usage period need it, and only near
      // the period's end.
      if (nowMs == 0 && feature.hasPeriod) nowMs = this.gate.timeForPeriodEnd(feature.periodEndSec * 1000);
      const key = this.ledgerKey(rule);
      ledgerKeyHash = UsageLedger.hashKey(key.ptr, key.length);
      this.cachedUsage = feature.usage;
      feature.usage += this.gate.ledger.pendingHashed(key.ptr, key.length, ledgerKeyHash, feature.usage);
    }
    return evaluateInto(scratchDecision, true, lookup.customerReason, feature, rule.requestedUsage, null, nowMs);
  }

  /** `customer \0 resource \0 feature` in the per-VM scratch (the usage ledger's key). */
  private ledgerKey(rule: GateRule): ByteBuilder {
    const key = scratchLedgerKey.reset().raw(this.customerPtr, this.customerLength).byte(0);
    if (this.hasResource) key.raw(this.resourcePtr, this.resourceLength);
    return key.byte(0).bytes(rule.featureBytes);
  }

  /** Metered features: the usage the cache holds (without local usage). */
  cachedUsage: f64 = 0;

  /** Stigg's fallback for the rule's feature: the configured table, else no access (reason Unknown). */
  private fallbackDecision(): Decision {
    const config = this.gate.config!;
    const rule = this.rule!;
    this.gate.metrics!.fallbacks.increment();
    const entry = config.fallback.find(rule.feature);
    if (entry === null || !entry.hasAccess) return Decision.deny(Reason.Unknown);
    const decision = Decision.allow();
    if (entry.hasLimit && !entry.isUnlimited) {
      decision.hasRemaining = true;
      decision.remaining = entry.usageLimit;
      decision.limit = entry.usageLimit;
    }
    return decision;
  }

  /** A FetchCustomer answer arrived (this stream is the effective context). */
  resumeWithEntry(buffer: ArrayBuffer, start: i32, end: i32): void {
    this.waiting = false;
    const decision = this.decideFromEntry(buffer, start, end, 0);
    const action = decision === null
      ? this.finish(this.fallbackDecision(), true, null)
      : this.finish(decision, false, this.lastFeature);
    if (action == Action.CONTINUE) continueRequest();
  }

  /** The fetch failed or timed out (this stream is the effective context). */
  resumeWithFallback(): void {
    this.waiting = false;
    if (this.finish(this.fallbackDecision(), true, null) == Action.CONTINUE) continueRequest();
  }

  /** Applies a decision: headers and usage on allow, a local reply on deny (unless shadow). */
  private finish(decision: Decision, fallback: bool, feature: Feature | null): i32 {
    const root = this.gate;
    const config = root.config!;
    const metrics = root.metrics!;
    const rule = this.rule!;
    if (fallback) addHeaderRaw(MapType.HTTP_REQUEST_HEADERS, changetype<usize>(FALLBACK_HEADER), FALLBACK_HEADER.byteLength,
      changetype<usize>(TRUE_VALUE), TRUE_VALUE.byteLength);
    if (config.shadow) {
      const text = decision.allowed ? "allow" : "deny:" + reasonName(decision.reason);
      const value = String.UTF8.encode(text);
      addHeaderRaw(MapType.HTTP_REQUEST_HEADERS, changetype<usize>(SHADOW_HEADER), SHADOW_HEADER.byteLength,
        changetype<usize>(value), value.byteLength);
    }
    if (!decision.allowed) {
      metrics.deny(decision.reason);
      if (config.shadow) {
        metrics.shadowDisagreements.increment();
        return Action.CONTINUE;
      }
      const response = config.denyResponse(decision.reason);
      const reason = reasonName(decision.reason);
      const body = String.UTF8.encode(renderDenyBody(response, rule.feature, reason));
      sendLocalReplyRaw(response.status, DENY_DETAILS, body, fallback ? response.fallbackHeaderBytes : response.headerBytes);
      return Action.PAUSE;
    }
    const inject = config.inject;
    if ((inject & InjectHeader.DECISION) != 0) this.addRequestHeader(DECISION_HEADER, ALLOW_VALUE);
    if ((inject & InjectHeader.CUSTOMER) != 0) {
      addHeaderRaw(MapType.HTTP_REQUEST_HEADERS, changetype<usize>(CUSTOMER_HEADER), CUSTOMER_HEADER.byteLength,
        this.customerPtr, this.customerLength);
    }
    if ((inject & InjectHeader.FEATURE) != 0) this.addRequestHeader(FEATURE_HEADER, rule.featureBytes);
    if ((inject & InjectHeader.FALLBACK) != 0 && !fallback) this.addRequestHeader(FALLBACK_HEADER, FALSE_VALUE);
    if (decision.hasRemaining) {
      // What is left once this request's usage counts.
      this.hasRemaining = true;
      this.remaining = max<f64>(0, decision.remaining - rule.requestedUsage);
      if ((inject & InjectHeader.REMAINING) != 0) {
        const value = formatNumberInto(scratchHeaderValue, this.remaining);
        addHeaderRaw(MapType.HTTP_REQUEST_HEADERS, changetype<usize>(REMAINING_HEADER), REMAINING_HEADER.byteLength,
          value.ptr, value.length);
      }
    }
    if (!fallback && !config.shadow && feature !== null && feature.kind == FeatureKind.METERED && rule.requestedUsage > 0) {
      // A metered feature was decided by decideFromEntry() just before: its ledger key is still built.
      const key = scratchLedgerKey;
      root.ledger.addHashed(key.ptr, key.length, ledgerKeyHash, this.cachedUsage, rule.requestedUsage);
      this.enqueueUsage(rule);
    }
    metrics.allowed.count();
    return Action.CONTINUE;
  }

  /** Queues the UsageIncrement for this request (encoded in the per-VM writer when the ids are ASCII). */
  private enqueueUsage(rule: GateRule): void {
    if (this.gate.usageQueue() < 0) return;
    const resourceLength = this.hasResource ? this.resourceLength : 0;
    if (isAscii(this.customerPtr, this.customerLength) && isAscii(this.resourcePtr, resourceLength)) {
      writeUsageIncrement(usageRecord, this.customerPtr, this.customerLength, this.resourcePtr, resourceLength,
        rule.featureBytes, rule.requestedUsage);
      this.gate.enqueueUsage(usageRecord.dataPtr, usageRecord.length);
      return;
    }
    // Other bytes go through the string encoder, so the record carries exactly what it always did.
    const record = encodeUsageIncrement(this.customerId(), this.resourceId(), rule.feature, rule.requestedUsage);
    this.gate.enqueueUsage(changetype<usize>(record), record.byteLength);
  }

  private addRequestHeader(name: ArrayBuffer, value: ArrayBuffer): void {
    addHeaderRaw(MapType.HTTP_REQUEST_HEADERS, changetype<usize>(name), name.byteLength, changetype<usize>(value), value.byteLength);
  }
}

function formatNumber(value: f64): string {
  if (value == Math.floor(value) && Math.abs(value) < 1e15) return (<i64>value).toString();
  return value.toString();
}

/** formatNumber's bytes, in `out` (whole numbers without allocating). */
function formatNumberInto(out: ByteBuilder, value: f64): ByteBuilder {
  out.reset();
  if (value == Math.floor(value) && Math.abs(value) < 1e15) return out.decimal(<i64>value);
  return out.bytes(String.UTF8.encode(value.toString()));
}

export function createGateRoot(id: u32, rootId: string): RootContext {
  return new GateRoot(id, rootId);
}
