// A FilterSync client built from the .proto with grpc-js, as a filter's sync role would see the API.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { SYNC_LOADER_OPTIONS, SYNC_PROTO_PATH } from "../../../control/grpc/syncProto.ts";
import type { SyncMessageIn } from "../../../control/grpc/syncProto.ts";

export interface WireEntryIn {
  customerId: string;
  resourceId: string;
  value: Buffer;
}

export interface FetchCustomerResponseIn {
  entry: WireEntryIn;
  version: string;
  epoch: string;
}

export interface FilterSyncClient extends grpc.Client {
  Subscribe(request: { nodeId?: string; resumeEpoch?: string; resumeVersion?: number | string }): grpc.ClientReadableStream<SyncMessageIn>;
  FetchCustomer(
    request: { customerId: string; resourceId?: string },
    callback: (err: grpc.ServiceError | null, response?: FetchCustomerResponseIn) => void,
  ): grpc.ClientUnaryCall;
  ReportUsage(
    request: { nodeId?: string; increments: { customerId: string; resourceId?: string; featureId: string; delta: number }[] },
    callback: (err: grpc.ServiceError | null, response?: { accepted: number }) => void,
  ): grpc.ClientUnaryCall;
}

export function syncClient(port: number): FilterSyncClient {
  const definition = protoLoader.loadSync(SYNC_PROTO_PATH, SYNC_LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    entitlementgate: { sync: { v1: { FilterSync: new (address: string, credentials: grpc.ChannelCredentials) => FilterSyncClient } } };
  };
  return new pkg.entitlementgate.sync.v1.FilterSync(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

export function fetchCustomer(client: FilterSyncClient, customerId: string, resourceId?: string): Promise<FetchCustomerResponseIn> {
  return new Promise((resolve, reject) => {
    client.FetchCustomer({ customerId, resourceId }, (err, response) => (err ? reject(err) : resolve(response!)));
  });
}

export function reportUsage(
  client: FilterSyncClient,
  increments: { customerId: string; resourceId?: string; featureId: string; delta: number }[],
): Promise<{ accepted: number }> {
  return new Promise((resolve, reject) => {
    client.ReportUsage({ nodeId: "test", increments }, (err, response) => (err ? reject(err) : resolve(response!)));
  });
}

/** Reads a Subscribe stream message by message, with a timeout per wait. */
export class StreamReader {
  readonly messages: SyncMessageIn[] = [];
  private waiters: (() => void)[] = [];
  private consumed = 0;
  error: Error | undefined;
  ended = false;

  constructor(readonly call: grpc.ClientReadableStream<SyncMessageIn>) {
    call.on("data", (m: SyncMessageIn) => {
      this.messages.push(m);
      this.wake();
    });
    call.on("error", (err: Error) => {
      this.error = err;
      this.wake();
    });
    call.on("end", () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** The next message not yet returned by next(). */
  async next(timeoutMs = 2000): Promise<SyncMessageIn> {
    const deadline = Date.now() + timeoutMs;
    while (this.consumed >= this.messages.length) {
      if (this.error) throw this.error;
      if (this.ended) throw new Error("stream ended");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages[this.consumed++]!;
  }

  /** Messages up to and including the one with snapshot_complete. */
  async snapshot(timeoutMs = 5000): Promise<SyncMessageIn[]> {
    const out: SyncMessageIn[] = [];
    for (;;) {
      const m = await this.next(timeoutMs);
      out.push(m);
      if (m.kind !== "MESSAGE_KIND_SNAPSHOT") throw new Error(`expected SNAPSHOT, got ${m.kind}`);
      if (m.snapshotComplete) return out;
    }
  }

  cancel(): void {
    this.call.cancel();
  }
}
