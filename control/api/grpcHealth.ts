// grpc.health.v1.Health (Check, Watch, List) following the control plane's readiness: every
// registered service is SERVING while ready and NOT_SERVING otherwise. The .proto is the one the
// grpc-health-check package ships (the upstream gRPC file).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export type ServingStatus = "SERVING" | "NOT_SERVING";
type WatchStatus = ServingStatus | "SERVICE_UNKNOWN";

export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";
export const HEALTH_PROTO_FILE = "health/v1/health.proto";

export function healthProtoDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("grpc-health-check/package.json")), "proto");
}

export function loadHealthPackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(HEALTH_PROTO_FILE, { keepCase: true, enums: String, defaults: true, includeDirs: [healthProtoDir()] });
}

export class HealthService {
  private readonly services: readonly string[];
  private status: ServingStatus;
  private readonly watchers = new Set<{ service: string; call: grpc.ServerWritableStream<{ service?: string }, { status: WatchStatus }> }>();

  /** `services` are the names besides "" (the whole server). */
  constructor(services: readonly string[], initial: ServingStatus = "NOT_SERVING") {
    this.services = ["", ...services];
    this.status = initial;
  }

  get current(): ServingStatus {
    return this.status;
  }

  /** Watchers hear only real changes. */
  set(status: ServingStatus): void {
    if (status === this.status) return;
    this.status = status;
    for (const watcher of this.watchers) {
      if (this.services.includes(watcher.service)) watcher.call.write({ status });
    }
  }

  /** Ends every Watch stream so a graceful shutdown is not held open by them. */
  endAll(): void {
    for (const watcher of [...this.watchers]) watcher.call.end();
    this.watchers.clear();
  }

  definition(pkg: protoLoader.PackageDefinition = loadHealthPackage()): grpc.ServiceDefinition {
    return pkg[HEALTH_SERVICE_NAME] as grpc.ServiceDefinition;
  }

  handlers(): grpc.UntypedServiceImplementation {
    return {
      Check: (call: grpc.ServerUnaryCall<{ service?: string }, { status: ServingStatus }>, callback: grpc.sendUnaryData<{ status: ServingStatus }>) => {
        const service = call.request.service ?? "";
        if (!this.services.includes(service)) {
          callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(service)}` });
          return;
        }
        callback(null, { status: this.status });
      },
      Watch: (call: grpc.ServerWritableStream<{ service?: string }, { status: WatchStatus }>) => {
        const service = call.request.service ?? "";
        const watcher = { service, call };
        this.watchers.add(watcher);
        const drop = (): void => {
          this.watchers.delete(watcher);
        };
        call.on("cancelled", drop);
        call.on("close", drop);
        call.write({ status: this.services.includes(service) ? this.status : "SERVICE_UNKNOWN" });
      },
      List: (_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
        callback(null, { statuses: Object.fromEntries(this.services.map((s) => [s, { status: this.status }])) });
      },
    };
  }
}
