import { startGrpcServer } from "../../../control/grpc/grpcServer.ts";
import { filterSyncServiceDefinition } from "../../../control/grpc/syncProto.ts";
import { SyncService } from "../../../control/grpc/syncService.ts";
import { createLogger } from "../../../control/log.ts";
import type { CustomerEntitlements } from "../../../control/model/entitlements.ts";
import { EntitlementStore, type EntitlementStoreOptions } from "../../../control/store/entitlementStore.ts";
import { syncClient, type FilterSyncClient } from "./syncClient.ts";

export function customer(customerId: string, limit = 10, extra: Partial<CustomerEntitlements> = {}): CustomerEntitlements {
  return {
    customerId,
    entitlements: [
      { featureId: "calls", featureType: "NUMBER", meterType: "Incremental", usageLimit: limit, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
      { featureId: "reports", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
    ],
    ...extra,
  };
}

export interface SyncFixture {
  store: EntitlementStore;
  sync: SyncService;
  port: number;
  client: FilterSyncClient;
}

/** A FilterSync server on 127.0.0.1:0 with a client; everything is closed after the test. */
export async function syncFixture(
  t: { after(fn: () => Promise<void> | void): void },
  options: { heartbeatMs?: number; store?: EntitlementStoreOptions } = {},
): Promise<SyncFixture> {
  const logger = createLogger("silent");
  const store = new EntitlementStore(options.store);
  const sync = new SyncService({ store, logger, heartbeatMs: options.heartbeatMs ?? 5000 });
  const server = await startGrpcServer("127.0.0.1", 0, [
    { definition: filterSyncServiceDefinition(), handlers: sync.handlers(), beforeClose: () => sync.endAll() },
  ], logger);
  const client = syncClient(server.port);
  t.after(async () => {
    client.close();
    await server.close(1000);
  });
  return { store, sync, port: server.port, client };
}
