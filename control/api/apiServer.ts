// The control plane's public gRPC port (GRPC_PORT, plaintext HTTP/2): Stigg's SidecarService,
// Envoy's ext_authz Authorization, grpc.health.v1 and server reflection, all on one server.
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
  /** TLS, rate limits, in-flight cap and message sizes (control/security/serverHardening.ts). */
  transport?: GrpcTransport;
}

export interface ApiServerHandle {
  port: number;
  health: HealthService;
  /** Re-reads readiness now (also done every `healthPollMs`). */
  refreshHealth(): void;
  close(graceMs?: number): Promise<void>;
}

export const API_SERVICE_NAMES = [SIDECAR_SERVICE_NAME, EXT_AUTHZ_SERVICE_NAME] as const;

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
  const registrations: GrpcServiceRegistration[] = [
    { definition: apis.sidecar, handlers: sidecar.handlers() },
    { definition: apis.extAuthz, handlers: extAuthz.handlers() },
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
  refreshHealth();
  const poll = setInterval(refreshHealth, options.healthPollMs ?? 1000);
  poll.unref();

  return {
    port: server.port,
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
