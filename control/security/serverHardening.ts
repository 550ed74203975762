// Turns the security and limit settings into what each server needs: gRPC credentials, interceptors and
// channel options for the sync and public gRPC servers, and the HTTPS certificate plus request hooks
// for the HTTP server. controlPlane.ts passes these through; the servers stay unaware of the settings.
import type { FastifyInstance } from "fastify";
import { Counter } from "prom-client";
import type * as grpc from "@grpc/grpc-js";
import type { ControlPlaneSettings } from "../config/settings.ts";
import { inflightInterceptor, methodsNamed, rateLimitInterceptor } from "../limits/grpcLimitInterceptors.ts";
import { grpcLimitOptions } from "../limits/grpcMessageLimits.ts";
import { registerHttpInflightCap } from "../limits/httpInflightCap.ts";
import { statusDetailsLimitInterceptor } from "../limits/statusDetailsLimit.ts";
import { InflightLimiter } from "../limits/inflightLimit.ts";
import { PeerRateLimiter } from "../limits/peerRateLimiter.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { BearerToken } from "./bearerToken.ts";
import { ReloadingCertificates } from "./certificateFiles.ts";
import type { PendingCallCap } from "../api/pendingCallCap.ts";
import { bearerAuthInterceptor } from "./grpcBearerAuth.ts";
import { serverCredentials, type GrpcTransport } from "./grpcTransport.ts";
import { registerAdminAuth, registerClosedAdmin } from "./httpSecurity.ts";
import { decodeFailuresAsValues, undecodableRequestInterceptor } from "./undecodableRequests.ts";

const SIDECAR = "/stigg.sidecar.v1.SidecarService/";
const EXT_AUTHZ_CHECK = "/envoy.service.auth.v3.Authorization/Check";
const SYNC_SERVICE = "/entitlementgate.sync.v1.FilterSync/";

/** The direct check APIs: Sidecar entitlement reads and ext_authz (writes are not rate limited). */
export const CHECK_METHODS: readonly string[] = [
  ...["GetEntitlements", "GetEntitlement", "GetBooleanEntitlement", "GetNumericEntitlement", "GetMeteredEntitlement", "GetEnumEntitlement", "GetEntitlementV2", "GetEntitlementsStateV2"].map((m) => SIDECAR + m),
  EXT_AUTHZ_CHECK,
];

/** Calls that may wait on Stigg: the whole Sidecar API, ext_authz and a filter's miss fetch. */
export const UPSTREAM_BOUND_METHODS: readonly string[] = [SIDECAR, EXT_AUTHZ_CHECK, `${SYNC_SERVICE}FetchCustomer`];

/** HTTP routes under this prefix are admin actions: STATUS_ADMIN_TOKEN required, closed without it. */
export const ADMIN_PATH_PREFIX = "/admin/";

export interface HttpHardening {
  tls?: ReloadingCertificates;
  /** Adds the admin-path token check and the in-flight cap; call before routes are added. */
  protect(app: FastifyInstance, probePaths: readonly string[]): void;
}

export interface ServerHardening {
  sync: GrpcTransport;
  api: GrpcTransport;
  /** MAX_INFLIGHT_UPSTREAM on the API port, taken by calls whose answer is pending (see control/api/pendingCallCap.ts). */
  apiPendingCallCap?: PendingCallCap;
  http: HttpHardening;
}

function refusalCounter(metrics: Metrics | undefined): Counter<"server" | "reason"> | undefined {
  if (!metrics) return undefined;
  const name = "entitlement_gate_refused_calls_total";
  const existing = metrics.registry.getSingleMetric(name);
  if (existing) return existing as Counter<"server" | "reason">;
  return new Counter({
    name,
    help: "Calls refused before their handler ran, by server and why (unauthenticated, rate_limited, overloaded).",
    labelNames: ["server", "reason"] as const,
    registers: [metrics.registry],
  });
}

function certificates(settings: ControlPlaneSettings, server: "sync" | "grpc" | "http", logger: Logger): ReloadingCertificates | undefined {
  const certFile = settings[`${server}TlsCertFile`];
  const keyFile = settings[`${server}TlsKeyFile`];
  if (certFile === undefined || keyFile === undefined) return undefined;
  const clientCaFile = settings[`${server}TlsClientCaFile`];
  const ENV = server.toUpperCase();
  return new ReloadingCertificates({
    paths: { certFile, keyFile, ...(clientCaFile !== undefined ? { clientCaFile } : {}) },
    names: { cert: `${ENV}_TLS_CERT_FILE`, key: `${ENV}_TLS_KEY_FILE`, clientCa: `${ENV}_TLS_CLIENT_CA_FILE` },
    reloadIntervalMs: settings.tlsReloadIntervalMs,
    logger: logger.child({ component: "tls", server }),
  });
}

/** Throws CertificateFileError (naming the setting) when a configured certificate cannot be used. */
export function serverHardening(settings: ControlPlaneSettings, logger: Logger, metrics?: Metrics): ServerHardening {
  const refused = refusalCounter(metrics);
  const channelOptions: grpc.ChannelOptions = grpcLimitOptions({
    maxReceiveMessageBytes: settings.maxReceiveMessageBytes,
    maxSendMessageBytes: settings.maxSendMessageBytes,
    maxConcurrentStreams: settings.maxConcurrentStreams,
  });
  // One cap shared by both gRPC servers: it bounds the process's pending upstream work as a whole.
  const upstream = new InflightLimiter(settings.maxInflightUpstream);
  const inflight = (server: string): grpc.ServerInterceptor =>
    inflightInterceptor({
      limiter: upstream,
      methods: methodsNamed(UPSTREAM_BOUND_METHODS),
      settingName: "MAX_INFLIGHT_UPSTREAM",
      onRefused: () => refused?.inc({ server, reason: "overloaded" }),
    });

  // Incoming events pass the interceptors in list order, outgoing statuses in reverse. First in the list,
  // the details bound sees every status: those of the interceptors after it and of the handlers.
  const boundedDetails = statusDetailsLimitInterceptor();
  const syncInterceptors: grpc.ServerInterceptor[] = [boundedDetails];
  if (settings.syncAuthToken !== undefined) {
    syncInterceptors.push(
      bearerAuthInterceptor({
        token: new BearerToken(settings.syncAuthToken),
        onRefused: (path, peer) => {
          refused?.inc({ server: "sync", reason: "unauthenticated" });
          logger.debug({ path, peer }, "sync call refused: no valid bearer token");
        },
      }),
    );
  }
  if (settings.maxInflightUpstream > 0) syncInterceptors.push(inflight("sync"));

  const apiInterceptors: grpc.ServerInterceptor[] = [boundedDetails];
  if (settings.checkRateLimitPerSecond > 0) {
    apiInterceptors.push(
      rateLimitInterceptor({
        limiter: new PeerRateLimiter({
          ratePerSecond: settings.checkRateLimitPerSecond,
          ...(settings.checkRateLimitBurst > 0 ? { burst: settings.checkRateLimitBurst } : {}),
        }),
        methods: methodsNamed(CHECK_METHODS),
        onRefused: () => refused?.inc({ server: "grpc", reason: "rate_limited" }),
      }),
    );
  }
  // On the API port the same cap is taken by the handlers, and only by calls that wait: a cache hit never
  // counts, so a Stigg outage that fills the cap with waiting misses does not refuse answerable calls.
  const apiPendingCallCap: PendingCallCap | undefined =
    settings.maxInflightUpstream > 0
      ? { limiter: upstream, settingName: "MAX_INFLIGHT_UPSTREAM", onRefused: () => refused?.inc({ server: "grpc", reason: "overloaded" }) }
      : undefined;

  const syncTls = certificates(settings, "sync", logger);
  const apiTls = certificates(settings, "grpc", logger);
  const httpTls = certificates(settings, "http", logger);
  const adminToken = settings.statusAdminToken !== undefined ? new BearerToken(settings.statusAdminToken) : undefined;
  const httpLimiter = settings.httpMaxInflight > 0 ? new InflightLimiter(settings.httpMaxInflight) : undefined;

  // Malformed bytes are answered last, after the token and the limits had their say.
  syncInterceptors.push(undecodableRequestInterceptor);
  apiInterceptors.push(undecodableRequestInterceptor);
  const wrapService = decodeFailuresAsValues;

  return {
    sync: { credentials: serverCredentials(syncTls), interceptors: syncInterceptors, channelOptions, wrapService },
    api: { credentials: serverCredentials(apiTls), interceptors: apiInterceptors, channelOptions, wrapService },
    ...(apiPendingCallCap ? { apiPendingCallCap } : {}),
    http: {
      ...(httpTls ? { tls: httpTls } : {}),
      protect(app, probePaths) {
        const admin = { pathPrefixes: [ADMIN_PATH_PREFIX], settingName: "STATUS_ADMIN_TOKEN" };
        if (adminToken) registerAdminAuth(app, { ...admin, token: adminToken });
        else registerClosedAdmin(app, admin);
        if (httpLimiter) registerHttpInflightCap(app, { limiter: httpLimiter, exemptPaths: probePaths, settingName: "HTTP_MAX_INFLIGHT" });
      },
    },
  };
}
