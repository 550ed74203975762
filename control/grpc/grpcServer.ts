// The control plane's gRPC server (HTTP/2; plaintext unless `transport` brings TLS). Today it carries FilterSync; the Stigg
// Sidecar API, ext_authz and grpc.health.v1 are added to the same server later.
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../log.ts";
import type { GrpcTransport } from "../security/grpcTransport.ts";

export interface GrpcServerHandle {
  server: grpc.Server;
  /** The port actually bound (useful with port 0). */
  port: number;
  /** Graceful shutdown, forced after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

export interface GrpcServiceRegistration {
  definition: grpc.ServiceDefinition;
  handlers: grpc.UntypedServiceImplementation;
  /** Called before the graceful shutdown, to end long-lived streams that would otherwise hold it. */
  beforeClose?: () => void;
}

/** `host` is an IP or name; IPv6 literals are bracketed for the gRPC address. */
function address(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startGrpcServer(
  host: string,
  port: number,
  services: readonly GrpcServiceRegistration[],
  logger: Logger,
  /** TLS, interceptors (token, limits) and message-size options; plaintext and unbounded without. */
  transport: GrpcTransport = {},
): Promise<GrpcServerHandle> {
  const server = new grpc.Server({
    "grpc.keepalive_permit_without_calls": 1,
    ...transport.channelOptions,
    ...(transport.interceptors && transport.interceptors.length > 0 ? { interceptors: transport.interceptors } : {}),
  });
  for (const s of services) server.addService(transport.wrapService?.(s.definition) ?? s.definition, s.handlers);
  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address(host, port), transport.credentials ?? grpc.ServerCredentials.createInsecure(), (err, actual) => (err ? reject(err) : resolve(actual)));
  });
  let closing: Promise<void> | undefined;
  return {
    server,
    port: boundPort,
    close(graceMs = 2000): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const s of services) s.beforeClose?.();
        const force = setTimeout(() => {
          logger.warn({ graceMs }, "gRPC server did not stop in time; forcing shutdown");
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}
