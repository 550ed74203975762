// Wires the control plane together: store <- source, FilterSync gRPC server, health HTTP server.
// `main.ts` runs it as a process; tests start it in-process with port 0.
import { UsageForwarder } from "./usage/usageForwarder.ts";
import { filterSyncServiceDefinition } from "./grpc/syncProto.ts";
import { startGrpcServer, type GrpcServerHandle } from "./grpc/grpcServer.ts";
import { SyncService } from "./grpc/syncService.ts";
import { startApiServer, type ApiServerHandle } from "./api/apiServer.ts";
import { startHealthServer, type HealthServerHandle, type Readiness } from "./http/healthServer.ts";
import { registerStatusRoutes, type StatusPageTuning } from "./http/status/statusRoutes.ts";
import { describeUpstream } from "./observability/statusReport.ts";
import { createLogger, type Logger } from "./log.ts";
import type { ControlPlaneSettings } from "./config/settings.ts";
import { createSecondLevelCache } from "./cache/redis/createSecondLevelCache.ts";
import type { SecondLevelCache } from "./cache/secondLevelCache.ts";
import { Metrics } from "./metrics/metrics.ts";
import { serverHardening } from "./security/serverHardening.ts";
import { OfflineUsageWriter } from "./read/offlineUsageWriter.ts";
import type { EntitlementReader, UsageWriter } from "./read/readTypes.ts";
import { StoreReader } from "./read/storeReader.ts";
import { StiggUpstream } from "./upstream/stigg/stiggUpstream.ts";
import { EntitlementStore } from "./store/entitlementStore.ts";
import type { EntitlementSource } from "./upstream/entitlementSource.ts";
import { OfflineFileSource } from "./upstream/offlineFile/fileSource.ts";

export interface ControlPlaneOptions {
  /** Defaults to a JSON logger at `settings.logLevel`. */
  logger?: Logger;
  /** Defaults to the offline file `settings.entitlementsFile`; later milestones pass a Stigg source. */
  source?: EntitlementSource;
  store?: EntitlementStore;
  /** Defaults to a new registry. */
  metrics?: Metrics;
  /** Stigg mode only; defaults to Redis when REDIS_ENVIRONMENT_PREFIX is set. */
  secondLevelCache?: SecondLevelCache;
  /** Status page sampling and polling periods (tests shorten them). */
  statusPage?: StatusPageTuning;
}

/** How long in-flight calls may take to finish after a shutdown starts (SHUTDOWN_GRACE_MS). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5000;

export interface ControlPlane {
  syncPort: number;
  /** Stigg SidecarService, ext_authz, grpc.health.v1 and reflection (GRPC_PORT). */
  grpcPort: number;
  httpPort: number;
  store: EntitlementStore;
  source: EntitlementSource;
  sync: SyncService;
  logger: Logger;
  metrics: Metrics;
  /** Stigg mode: cache -> Edge -> stale -> unavailable; otherwise the store (offline file). */
  reader: EntitlementReader;
  usage: UsageWriter;
  readiness(): Readiness;
  /**
   * Drains: readiness turns false at once, sync streams are ended, in-flight gRPC calls get `graceMs`
   * (default DEFAULT_SHUTDOWN_GRACE_MS) before they are cancelled, then the source and the HTTP server
   * stop. Safe to call more than once (later calls share the first drain).
   */
  close(graceMs?: number): Promise<void>;
}

export async function startControlPlane(settings: ControlPlaneSettings, options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const logger = options.logger ?? createLogger(settings.logLevel);
  const store = options.store ?? new EntitlementStore();
  const metrics = options.metrics ?? new Metrics();
  // TLS, tokens and limits; throws here, before anything connects or listens, when a certificate file is unusable.
  const hardening = serverHardening(settings, logger, metrics);
  const stigg = options.source === undefined && settings.serverApiKey !== undefined && !settings.offline ? startStigg(settings, store, logger, metrics, options) : undefined;
  const source = options.source ?? stigg ?? new OfflineFileSource({ path: settings.entitlementsFile, logger });
  const reader: EntitlementReader = stigg?.reader ?? new StoreReader(store);
  const usage: UsageWriter = stigg?.usage ?? new OfflineUsageWriter(store);
  // In Stigg mode a filter's miss becomes an upstream read, like any other API's.
  // ... and the usage the filters count goes to Stigg, summed per customer and feature.
  const usageForwarder = stigg ? new UsageForwarder({ writer: usage, logger }) : undefined;
  const sync = new SyncService({ store, logger, heartbeatMs: settings.syncHeartbeatMs, ...(stigg ? { reader, usageForwarder } : {}) });

  let grpcServer: GrpcServerHandle | undefined;
  let httpServer: HealthServerHandle | undefined;
  let apiServer: ApiServerHandle | undefined;
  let closing: Promise<void> | undefined;

  const readiness = (): Readiness => {
    if (closing) return { ready: false, reason: "shutting down" };
    if (!grpcServer) return { ready: false, reason: "the sync gRPC server is not listening yet" };
    const status = source.status();
    if (!status.loaded) return { ready: false, reason: status.reason ?? "entitlements not loaded yet" };
    return { ready: true };
  };

  const close = (graceMs = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> => {
    // Readiness reports "shutting down" from here while the HTTP server stays up, so probes see a 503
    // rather than a refused connection; it closes last. In-flight calls get `graceMs` to finish.
    closing ??= (async () => {
      await Promise.all([apiServer?.close(graceMs), grpcServer?.close(graceMs)]);
      await usageForwarder?.close();
      await source.stop();
      await httpServer?.close();
    })();
    return closing;
  };

  const listenError = (what: string, setting: string, port: number, err: unknown): Error => {
    const message = err instanceof Error ? err.message : String(err);
    // Stigg's default GRPC_PORT is 80, which an unprivileged user cannot bind: say what to do.
    const hint = /EACCES/.test(message) && port > 0 && port < 1024
      ? ` (ports below 1024 need root or CAP_NET_BIND_SERVICE: set ${setting} to a higher port, e.g. ${setting}=${port === 80 ? 8081 : port + 8000})`
      : "";
    return new Error(`${what} cannot listen on ${settings.bindAddress}:${port} (${setting}): ${message}${hint}`, { cause: err });
  };

  try {
    // The HTTP server starts first so probes get a 503 with a reason rather than a refused
    // connection while the source loads.
    httpServer = await startHealthServer({
      host: settings.bindAddress,
      port: settings.httpPort,
      livenessPath: settings.healthEndpointUrl,
      readinessPath: settings.readyEndpointUrl,
      readiness,
      ...(hardening.http.tls ? { tls: hardening.http.tls } : {}),
      protect: hardening.http.protect,
      metrics: {
        metrics,
        beforeScrape: () => {
          metrics.syncClients.set(sync.subscriberCount);
          metrics.syncLagVersions.set(sync.maxLagVersions);
          // Stigg mode keeps these current from its LRU; the file source has no LRU.
          if (!stigg) {
            metrics.cacheEntries.set(store.size);
            metrics.cacheBytes.set(store.all().reduce((sum, entry) => sum + entry.bytes.length, 0));
          }
        },
      },
      extraRoutes: (app) =>
        registerStatusRoutes(app, {
          registry: metrics.registry,
          store,
          filters: sync,
          filterDetails: () => sync.filterDetails(),
          readiness,
          upstream: () => describeUpstream(stigg ? "stigg" : options.source ? "custom" : "file", source, stigg ? settings.wsEnabled : undefined),
          ...(settings.statusAdminToken ? { adminToken: settings.statusAdminToken } : {}),
          ...options.statusPage,
        }),
    }).catch((err: unknown) => {
      throw listenError("the HTTP server", "HTTP_PORT", settings.httpPort, err);
    });
    await source.start(store);
    grpcServer = await startGrpcServer(
      settings.bindAddress,
      settings.syncPort,
      [{ definition: filterSyncServiceDefinition(), handlers: sync.handlers(), beforeClose: () => sync.endAll() }],
      logger,
      hardening.sync,
    ).catch((err: unknown) => {
      throw listenError("the sync gRPC server", "SYNC_PORT", settings.syncPort, err);
    });
    apiServer = await startApiServer({
      host: settings.bindAddress,
      port: settings.grpcPort,
      reader,
      usage,
      store,
      metrics,
      logger,
      entitlementsFallback: settings.entitlementsFallback,
      extAuthzCustomerHeader: settings.extAuthzCustomerHeader,
      extAuthzRules: settings.extAuthzRules,
      readiness,
      transport: hardening.api,
      ...(hardening.apiPendingCallCap ? { pendingCallCap: hardening.apiPendingCallCap } : {}),
      fastPath: settings.grpcFastPath,
    }).catch((err: unknown) => {
      throw listenError("the API gRPC server", "GRPC_PORT", settings.grpcPort, err);
    });
  } catch (err) {
    await close();
    throw err;
  }

  return {
    syncPort: grpcServer.port,
    grpcPort: apiServer.port,
    httpPort: httpServer.port,
    store,
    source,
    sync,
    logger,
    metrics,
    reader,
    usage,
    readiness,
    close,
  };
}

function startStigg(settings: ControlPlaneSettings, store: EntitlementStore, logger: Logger, metrics: Metrics, options: ControlPlaneOptions): StiggUpstream {
  const secondLevelCache = options.secondLevelCache ?? createSecondLevelCache(settings, logger, metrics);
  return new StiggUpstream({
    apiKey: settings.serverApiKey ?? "",
    apiUrl: settings.apiUrl,
    edgeEnabled: settings.edgeEnabled,
    edgeApiUrl: settings.edgeApiUrl,
    wsEnabled: settings.wsEnabled,
    wsUrl: settings.wsUrl,
    cacheMaxSizeBytes: settings.cacheMaxSizeBytes,
    missTimeoutMs: settings.missTimeoutMs,
    maxStalenessSeconds: settings.maxStalenessSeconds,
    edgeBudgetPerMinute: settings.edgeBudgetPerMinute,
    store,
    logger,
    metrics,
    ...(secondLevelCache ? { secondLevelCache } : {}),
    tuning: { pingIntervalMs: settings.eventStreamPingMs, pongTimeoutMs: settings.eventStreamPongTimeoutMs },
  });
}
