// Loads the sync API definition (proto/entitlementgate/sync/v1/sync.proto) at run time and
// describes the JavaScript shape of its messages under the loader options below.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { shippedFile } from "../shippedFile.ts";

export const SYNC_PROTO_PATH = shippedFile("proto/entitlementgate/sync/v1/sync.proto");

/**
 * camelCase fields; uint64/int64 as decimal strings on input (versions stay far below 2^53, but
 * a Long object would leak into every caller); enums as their names; bytes as Buffer.
 */
export const SYNC_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

export type MessageKind = "MESSAGE_KIND_UNSPECIFIED" | "MESSAGE_KIND_SNAPSHOT" | "MESSAGE_KIND_DELTA" | "MESSAGE_KIND_HEARTBEAT";

export interface SubscribeRequest {
  nodeId: string;
  resumeEpoch: string;
  /** uint64 as a decimal string. */
  resumeVersion: string;
}

export interface WireEntry {
  customerId: string;
  resourceId: string;
  value: Buffer;
}

/** As the server writes it: numbers are accepted for 64-bit fields. */
export interface SyncMessageOut {
  kind: MessageKind;
  version: number;
  epoch: string;
  entries: WireEntry[];
  sentAtUnixMs: number;
  snapshotComplete: boolean;
  heartbeatIntervalMs: number;
}

/** As a client reads it with SYNC_LOADER_OPTIONS: 64-bit fields arrive as strings. */
export interface SyncMessageIn extends Omit<SyncMessageOut, "version" | "sentAtUnixMs"> {
  version: string;
  sentAtUnixMs: string;
}

export interface FetchCustomerRequest {
  customerId: string;
  resourceId: string;
}

export interface FetchCustomerResponse {
  entry: WireEntry;
  version: number | string;
  epoch: string;
}

export interface UsageIncrement {
  customerId: string;
  resourceId: string;
  featureId: string;
  delta: number;
}

export interface UsageReport {
  nodeId: string;
  increments: UsageIncrement[];
}

export interface UsageReportAck {
  accepted: number;
}

let cached: grpc.ServiceDefinition | undefined;

/** The FilterSync service definition, loaded once per process. */
export function filterSyncServiceDefinition(): grpc.ServiceDefinition {
  if (!cached) {
    const definition = protoLoader.loadSync(SYNC_PROTO_PATH, SYNC_LOADER_OPTIONS);
    const service = definition["entitlementgate.sync.v1.FilterSync"];
    if (!service || !("Subscribe" in service)) throw new Error(`FilterSync not found in ${SYNC_PROTO_PATH}`);
    cached = service as grpc.ServiceDefinition;
  }
  return cached;
}
