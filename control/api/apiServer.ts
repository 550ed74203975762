// The control plane's public gRPC port (GRPC_PORT, plaintext HTTP/2): Stigg's SidecarService,
// Envoy's ext_authz Authorization, grpc.health.v1 and server reflection, all on one server. The hot
// unary check methods are answered on raw HTTP/2 by the fast path (fastPath/) unless `fastPath: false`.
import type { EntitlementsFallback } from "../evaluation/fallback.ts";
import { startGrpcServer, type GrpcServerHandle, type GrpcServiceRegistration } from "../grpc/grpcServer.ts";
import type { Readiness } from "../http/healthServer.ts";
import type { Logger } from "../log.ts";
import type { GrpcTransport } from "../security/grpcTransport.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { EntitlementReader, UsageWriter } from "../read/readTypes.ts";
import type { EntitlementStore } from "../store/entitlementStore.ts";
import { envoyIncludeDirs, EXT_AUTHZ_PROTO_FILE, EXT_AUTHZ_SERVICE_NAME, extAuthzServiceDefinition } from "./extAuthzProto.ts";
import type { ExtAuthzRule } from "./extAuthzRules.ts";
import { ExtAuthzService } from "./extAuthzService.ts";
import { HEALTH_PROTO_FILE, healthProtoDir, HealthService } from "./grpcHealth.ts";
import { reflectionRegistrations } from "./reflection.ts";
import { SIDECAR_PROTO_FILE, SIDECAR_PROTO_ROOT, SIDECAR_SERVICE_NAME, sidecarServiceDefinition } from "./sidecarProto.ts";
import { SidecarService } from "./sidecarService.ts";
import { capPendingCalls, type PendingCallCap } from "./pendingCallCap.ts";
import { unaryHandlers } from "./unaryCall.ts";
import { attachFastPath, type FastPathHandle } from "./fastPath/fastPath.ts";

export interface ApiServerOptions {
  host: string;
  port: number;
  reader: EntitlementReader;
  usage: UsageWriter;
  logger: Logger;
  /** Acknowledged usage is written here so the filters receive it. */
  store?: EntitlementStore;
  metrics?: Metrics;
  entitlementsFallback?: EntitlementsFallback;
  extAuthzCustomerHeader?: string;
  extAuthzRules?: readonly ExtAuthzRule[];
  /** Health follows this; without it the server is SERVING once listening. */
  readiness?: () => Readiness;
  /** How often readiness is re-read for health Watch streams. */
  healthPollMs?: number;
  /** Clock for usage-period rollover (tests). */
  now?: () => number;
  /** TLS, rate limits and message sizes (control/security/serverHardening.ts). */
  transport?: GrpcTransport;
  /** MAX_INFLIGHT_UPSTREAM: taken by every API call while its answer is pending (pendingCallCap.ts). */
  pendingCallCap?: PendingCallCap;
  /** GRPC_FAST_PATH: the hot check methods on raw HTTP/2 (fastPath/); false = grpc-js only. Default true. */
  fastPath?: boolean;
}

export interface ApiServerHandle {
  port: number;
  /** Set when the fast path serves the hot check methods. */
  fastPath?: FastPathHandle;
  health: HealthService;
  /** Re-reads readiness now (also done every `healthPollMs`). */
  refreshHealth(): void;
  close(graceMs?: number): Promise<void>;
}

export const API_SERVICE_NAMES = [SIDECAR_SERVICE_NAME, EXT_AUTHZ_SERVICE_NAME] as const;

/** The unary reads the Sidecar SDKs and Envoy call per request: served by the fast path. */
export const FAST_SIDECAR_METHODS = ["GetBooleanEntitlement", "GetMeteredEntitlement", "GetNumericEntitlement", "GetEnumEntitlement", "GetEntitlement"] as const;
export const FAST_EXT_AUTHZ_METHODS = ["Check"] as const;

interface LoadedApis {
  sidecar: ReturnType<typeof sidecarServiceDefinition>;
  extAuthz: ReturnType<typeof extAuthzServiceDefinition>;
  reflection: ReturnType<typeof reflectionRegistrations>;
}

let loaded: LoadedApis | undefined;

/** Parsing the protos (Envoy's closure is ~25 files) takes a few hundred ms: once per process. */
function loadApis(): LoadedApis {
  loaded ??= {
    sidecar: sidecarServiceDefinition(),
    extAuthz: extAuthzServiceDefinition(),
    reflection: reflectionRegistrations([
      { files: [SIDECAR_PROTO_FILE], includeDirs: [SIDECAR_PROTO_ROOT] },
      { files: [EXT_AUTHZ_PROTO_FILE], includeDirs: envoyIncludeDirs() },
      { files: [HEALTH_PROTO_FILE], includeDirs: [healthProtoDir()] },
    ]),
  };
  return loaded;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServerHandle> {
  const logger = options.logger.child({ component: "api" });
  const sidecar = new SidecarService({
    reader: options.reader,
    usage: options.usage,
    logger,
    ...(options.store ? { store: options.store } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.entitlementsFallback ? { entitlementsFallback: options.entitlementsFallback } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const extAuthz = new ExtAuthzService({
    reader: options.reader,
    logger,
    ...(options.extAuthzCustomerHeader ? { customerHeader: options.extAuthzCustomerHeader } : {}),
    ...(options.extAuthzRules ? { rules: options.extAuthzRules } : {}),
    ...(options.entitlementsFallback ? { entitlementsFallback: options.entitlementsFallback } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const health = new HealthService(API_SERVICE_NAMES);
  const apis = loadApis();
  const cap = options.pendingCallCap;
  const sidecarMethods = cap ? capPendingCalls(sidecar.unaryMethods(), cap) : sidecar.unaryMethods();
  const extAuthzMethods = cap ? capPendingCalls(extAuthz.unaryMethods(), cap) : extAuthz.unaryMethods();
  const registrations: GrpcServiceRegistration[] = [
    { definition: apis.sidecar, handlers: unaryHandlers(sidecarMethods) },
    { definition: apis.extAuthz, handlers: unaryHandlers(extAuthzMethods) },
    { definition: health.definition(), handlers: health.handlers(), beforeClose: () => health.endAll() },
    ...apis.reflection,
  ];

  let server: GrpcServerHandle | undefined;
  let closing = false;
  const refreshHealth = (): void => {
    if (closing || !server) {
      health.set("NOT_SERVING");
      return;
    }
    health.set(options.readiness === undefined || options.readiness().ready ? "SERVING" : "NOT_SERVING");
  };
  server = await startGrpcServer(options.host, options.port, registrations, logger, options.transport);
  let fastPath: FastPathHandle | undefined;
  if (options.fastPath ?? true) {
    try {
      fastPath = attachFastPath(server.server, {
        services: [
          { definition: apis.sidecar, methods: sidecarMethods, fast: FAST_SIDECAR_METHODS },
          { definition: apis.extAuthz, methods: extAuthzMethods, fast: FAST_EXT_AUTHZ_METHODS },
        ],
        ...(options.transport?.interceptors ? { interceptors: options.transport.interceptors } : {}),
        ...(options.transport?.wrapService ? { wrapService: options.transport.wrapService } : {}),
        ...(options.transport?.channelOptions ? { channelOptions: options.transport.channelOptions } : {}),
      });
    } catch (err) {
      await server.close(0);
      throw err;
    }
  }
  refreshHealth();
  const poll = setInterval(refreshHealth, options.healthPollMs ?? 1000);
  poll.unref();

  return {
    port: server.port,
    ...(fastPath ? { fastPath } : {}),
    health,
    refreshHealth,
    async close(graceMs?: number): Promise<void> {
      closing = true;
      clearInterval(poll);
      refreshHealth();
      await server?.close(graceMs);
    },
  };
}
