// Hand-encoded protobuf for the sync API (proto/entitlementgate/sync/v1/sync.proto): what a control
// plane sends, written from the .proto so the filter tests need no protobuf library.
import { varint } from "./entryBytes.ts";

export const MessageKind = { SNAPSHOT: 1, DELTA: 2, HEARTBEAT: 3 } as const;

export interface WireEntry {
  customerId: string;
  resourceId?: string;
  value: Uint8Array;
}

export interface WireSyncMessage {
  kind: number;
  version: number;
  epoch: string;
  entries?: WireEntry[];
  sentAtUnixMs?: number;
  snapshotComplete?: boolean;
  heartbeatIntervalMs?: number;
}

export function tag(field: number, wireType: number): number[] {
  return varint((field << 3) | wireType);
}

export function lengthDelimited(field: number, bytes: Uint8Array | number[]): number[] {
  const data = [...bytes];
  return [...tag(field, 2), ...varint(data.length), ...data];
}

function stringField(field: number, value: string): number[] {
  return value.length === 0 ? [] : lengthDelimited(field, Buffer.from(value, "utf8"));
}

function varintField(field: number, value: number | bigint | boolean): number[] {
  const v = typeof value === "boolean" ? (value ? 1 : 0) : value;
  return BigInt(v) === 0n ? [] : [...tag(field, 0), ...varint(v)];
}

export function encodeEntryMessage(entry: WireEntry): number[] {
  return [
    ...stringField(1, entry.customerId),
    ...stringField(2, entry.resourceId ?? ""),
    ...(entry.value.length === 0 ? [] : lengthDelimited(3, entry.value)),
  ];
}

export function encodeSyncMessage(message: WireSyncMessage): Uint8Array {
  const out: number[] = [
    ...varintField(1, message.kind),
    ...varintField(2, message.version),
    ...stringField(3, message.epoch),
  ];
  for (const entry of message.entries ?? []) out.push(...lengthDelimited(4, encodeEntryMessage(entry)));
  out.push(...varintField(5, message.sentAtUnixMs ?? 0));
  out.push(...varintField(6, message.snapshotComplete ?? false));
  out.push(...varintField(7, message.heartbeatIntervalMs ?? 0));
  return Uint8Array.from(out);
}

export interface DecodedSubscribeRequest {
  nodeId: string;
  resumeEpoch: string;
  resumeVersion: bigint;
}

/** Decodes a SubscribeRequest as the control plane would (unknown fields skipped). */
export function decodeSubscribeRequest(bytes: Uint8Array): DecodedSubscribeRequest {
  const result: DecodedSubscribeRequest = { nodeId: "", resumeEpoch: "", resumeVersion: 0n };
  let pos = 0;
  const readVarint = (): bigint => {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[pos++];
      if (b === undefined) throw new Error("truncated varint");
      value |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return value;
      shift += 7n;
    }
  };
  while (pos < bytes.length) {
    const key = Number(readVarint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) {
      const v = readVarint();
      if (field === 3) result.resumeVersion = v;
    } else if (wire === 2) {
      const len = Number(readVarint());
      const text = Buffer.from(bytes.subarray(pos, pos + len)).toString("utf8");
      pos += len;
      if (field === 1) result.nodeId = text;
      if (field === 2) result.resumeEpoch = text;
    } else {
      throw new Error(`unexpected wire type ${wire}`);
    }
  }
  return result;
}
