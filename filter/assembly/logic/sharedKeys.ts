// Shared-data key names and the small control values (proto/ENTRY_FORMAT.md, "Shared-data keys").

export const CUSTOMER_KEY_PREFIX = "eg1/c/";
export const RESOURCE_KEY_PREFIX = "eg1/r/";
export const SYNC_GEN_KEY = "eg1/sync/gen";
export const SYNC_STATE_KEY = "eg1/sync/state";
export const SYNC_AT_KEY = "eg1/sync/at";

/** Byte length of a generation prefix in front of every entry value. */
export const GENERATION_BYTES: i32 = 4;

export function customerKey(customerId: string): string {
  return CUSTOMER_KEY_PREFIX + customerId;
}

export function resourceKey(customerId: string, resourceId: string): string {
  return RESOURCE_KEY_PREFIX + String.UTF8.byteLength(customerId).toString() + "/" + customerId + resourceId;
}

/** The key of a sync entry: customer-level when `resourceId` is empty. */
export function entryKey(customerId: string, resourceId: string): string {
  return resourceId.length == 0 ? customerKey(customerId) : resourceKey(customerId, resourceId);
}

export function u32Bytes(value: u32): ArrayBuffer {
  const out = new ArrayBuffer(4);
  store<u32>(changetype<usize>(out), value);
  return out;
}

export function u64Bytes(value: u64): ArrayBuffer {
  const out = new ArrayBuffer(8);
  store<u64>(changetype<usize>(out), value);
  return out;
}

/** A u32 LE value; anything shorter than 4 bytes (absent, empty) reads as 0. */
export function readU32(value: ArrayBuffer | null): u32 {
  if (value === null || value.byteLength < 4) return 0;
  return load<u32>(changetype<usize>(value));
}

/** `generation` followed by the entry bytes [start, start + length) of `source`. */
export function generationValue(generation: u32, source: ArrayBuffer, start: i32, length: i32): ArrayBuffer {
  const out = new ArrayBuffer(GENERATION_BYTES + length);
  store<u32>(changetype<usize>(out), generation);
  memory.copy(changetype<usize>(out) + GENERATION_BYTES, changetype<usize>(source) + <usize>start, <usize>length);
  return out;
}

export class SyncState {
  constructor(public epoch: string, public version: u64) {}
}

export function formatSyncState(epoch: string, version: u64): string {
  return epoch + " " + version.toString();
}

/** Parses `<epoch> <version>`; anything malformed means "no state" (resume from a snapshot). */
export function parseSyncState(text: string): SyncState {
  const space = text.lastIndexOf(" ");
  if (space <= 0 || space == text.length - 1) return new SyncState("", 0);
  const digits = text.substring(space + 1);
  let version: u64 = 0;
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    if (c < 0x30 || c > 0x39 || version > 1844674407370955160) return new SyncState("", 0);
    version = version * 10 + <u64>(c - 0x30);
  }
  return new SyncState(text.substring(0, space), version);
}
