// The sync API messages the filter exchanges (proto/entitlementgate/sync/v1/sync.proto).
import { ProtoReader, ProtoWriter, WireType } from "./protobuf";

export const SYNC_SERVICE = "entitlementgate.sync.v1.FilterSync";
export const SUBSCRIBE_METHOD = "Subscribe";

export namespace MessageKind {
  export const UNSPECIFIED: i32 = 0;
  export const SNAPSHOT: i32 = 1;
  export const DELTA: i32 = 2;
  export const HEARTBEAT: i32 = 3;
}

/** One entry; its value stays in the message buffer as [valueStart, valueStart + valueLength). */
export class SyncEntry {
  customerId: string = "";
  resourceId: string = "";
  valueStart: i32 = 0;
  valueLength: i32 = 0;
}

export class SyncMessage {
  kind: i32 = MessageKind.UNSPECIFIED;
  version: u64 = 0;
  epoch: string = "";
  entries: SyncEntry[] = [];
  sentAtUnixMs: i64 = 0;
  snapshotComplete: bool = false;
  heartbeatIntervalMs: u32 = 0;
  /** The buffer the entries' value ranges point into. */
  buffer: ArrayBuffer = new ArrayBuffer(0);
}

function expect(reader: ProtoReader, wireType: u32): bool {
  if (reader.wireType != wireType) {
    reader.fail();
    return false;
  }
  return true;
}

function decodeEntry(reader: ProtoReader, start: i32, end: i32): SyncEntry | null {
  const inner = new ProtoReader(reader.buffer, start, end);
  const entry = new SyncEntry();
  while (inner.next()) {
    const field = inner.field;
    if (field == 1) {
      if (!expect(inner, WireType.LENGTH_DELIMITED)) break;
      entry.customerId = inner.string();
    } else if (field == 2) {
      if (!expect(inner, WireType.LENGTH_DELIMITED)) break;
      entry.resourceId = inner.string();
    } else if (field == 3) {
      if (!expect(inner, WireType.LENGTH_DELIMITED)) break;
      const length = inner.varint();
      entry.valueStart = inner.skip(length);
      entry.valueLength = <i32>length;
    } else {
      inner.skipField();
    }
  }
  return inner.failed ? null : entry;
}

/** Decodes a SyncMessage; null when the bytes are not a well-formed message. */
export function decodeSyncMessage(buffer: ArrayBuffer): SyncMessage | null {
  const reader = new ProtoReader(buffer, 0, buffer.byteLength);
  const message = new SyncMessage();
  message.buffer = buffer;
  while (reader.next()) {
    const field = reader.field;
    if (field == 1) {
      if (!expect(reader, WireType.VARINT)) break;
      message.kind = <i32>reader.varint();
    } else if (field == 2) {
      if (!expect(reader, WireType.VARINT)) break;
      message.version = reader.varint();
    } else if (field == 3) {
      if (!expect(reader, WireType.LENGTH_DELIMITED)) break;
      message.epoch = reader.string();
    } else if (field == 4) {
      if (!expect(reader, WireType.LENGTH_DELIMITED)) break;
      const length = reader.varint();
      const start = reader.skip(length);
      if (reader.failed) break;
      const entry = decodeEntry(reader, start, start + <i32>length);
      if (entry === null) { reader.fail(); break; }
      message.entries.push(entry);
    } else if (field == 5) {
      if (!expect(reader, WireType.VARINT)) break;
      message.sentAtUnixMs = <i64>reader.varint();
    } else if (field == 6) {
      if (!expect(reader, WireType.VARINT)) break;
      message.snapshotComplete = reader.varint() != 0;
    } else if (field == 7) {
      if (!expect(reader, WireType.VARINT)) break;
      message.heartbeatIntervalMs = <u32>reader.varint();
    } else {
      reader.skipField();
    }
  }
  return reader.failed ? null : message;
}

export function encodeSubscribeRequest(nodeId: string, resumeEpoch: string, resumeVersion: u64): ArrayBuffer {
  const writer = new ProtoWriter();
  writer.string(1, nodeId);
  writer.string(2, resumeEpoch);
  writer.uint64(3, resumeVersion);
  return writer.finish();
}

export const FETCH_CUSTOMER_METHOD = "FetchCustomer";
export const REPORT_USAGE_METHOD = "ReportUsage";

export function encodeFetchCustomerRequest(customerId: string, resourceId: string): ArrayBuffer {
  const writer = new ProtoWriter();
  writer.string(1, customerId);
  writer.string(2, resourceId);
  return writer.finish();
}

/** FetchCustomerResponse.entry (its value range points into `buffer`), or null when malformed. */
export function decodeFetchCustomerResponse(buffer: ArrayBuffer): SyncEntry | null {
  const reader = new ProtoReader(buffer, 0, buffer.byteLength);
  let entry: SyncEntry | null = null;
  while (reader.next()) {
    if (reader.field == 1) {
      if (!expect(reader, WireType.LENGTH_DELIMITED)) break;
      const length = reader.varint();
      const start = reader.skip(length);
      if (reader.failed) break;
      entry = decodeEntry(reader, start, start + <i32>length);
      if (entry === null) { reader.fail(); break; }
    } else {
      reader.skipField();
    }
  }
  return reader.failed ? null : entry;
}

/** One UsageIncrement message; the sync role wraps queued increments into a UsageReport unchanged. */
export function encodeUsageIncrement(customerId: string, resourceId: string, featureId: string, delta: f64): ArrayBuffer {
  const writer = new ProtoWriter();
  writer.string(1, customerId);
  writer.string(2, resourceId);
  writer.string(3, featureId);
  writer.double(4, delta);
  return writer.finish();
}

/**
 * The same UsageIncrement bytes as encodeUsageIncrement, from raw UTF-8 ids, into a reused writer (the
 * filter's hit path: no allocation). The message is [writer.dataPtr, writer.length).
 */
export function writeUsageIncrement(
  writer: ProtoWriter, customerPtr: usize, customerLength: i32, resourcePtr: usize, resourceLength: i32,
  featureId: ArrayBuffer, delta: f64,
): void {
  writer.reset();
  // Proto3 leaves out empty strings, as the string writer does.
  if (customerLength > 0) writer.rawField(1, customerPtr, customerLength);
  if (resourceLength > 0) writer.rawField(2, resourcePtr, resourceLength);
  if (featureId.byteLength > 0) writer.rawField(3, changetype<usize>(featureId), featureId.byteLength);
  writer.double(4, delta);
}

/** UsageReport{node_id, increments} from already-encoded UsageIncrement messages. */
export function encodeUsageReport(nodeId: string, increments: ArrayBuffer[]): ArrayBuffer {
  const writer = new ProtoWriter();
  writer.string(1, nodeId);
  for (let i = 0; i < increments.length; i++) {
    const item = unchecked(increments[i]);
    writer.rawField(2, changetype<usize>(item), item.byteLength);
  }
  return writer.finish();
}
