// The sync role's lease among worker VMs (`eg1/sync/lease`): ASCII "<holderId> <expiryUnixMs>".
// Written only with the cas of the value just read, so two workers cannot both renew or take it.

export const SYNC_LEASE_KEY = "eg1/sync/lease";
/** A CAS counter that hands every worker VM a distinct holder id. */
export const SYNC_HOLDERS_KEY = "eg1/sync/holders";

export class Lease {
  constructor(public holder: string, public expiryMs: i64) {}
}

export function formatLease(holder: string, expiryMs: i64): string {
  return holder + " " + expiryMs.toString();
}

/** null when absent or malformed (a malformed lease is free to take). */
export function parseLease(value: ArrayBuffer | null): Lease | null {
  if (value === null || value.byteLength == 0 || value.byteLength > 256) return null;
  const text = String.UTF8.decode(value);
  const space = text.lastIndexOf(" ");
  if (space <= 0 || space == text.length - 1) return null;
  let expiry: i64 = 0;
  for (let i = space + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39 || expiry > 100_000_000_000_000) return null;
    expiry = expiry * 10 + <i64>(c - 0x30);
  }
  return new Lease(text.substring(0, space), expiry);
}

export namespace LeaseStep {
  /** Keep what we have (holder stays holder, follower stays follower). */
  export const WAIT: i32 = 0;
  /** Write our claim with the cas just read. */
  export const CLAIM: i32 = 1;
  /** Someone else holds a live lease. */
  export const FOLLOW: i32 = 2;
}

/**
 * What a worker does with the lease it just read: renew its own once a third of the TTL has passed,
 * take an absent or expired one, otherwise follow.
 */
export function leaseStep(current: Lease | null, me: string, nowMs: i64, ttlMs: i64): i32 {
  if (current === null || current.expiryMs <= nowMs) return LeaseStep.CLAIM;
  if (current.holder == me) return current.expiryMs - nowMs <= ttlMs - ttlMs / 3 ? LeaseStep.CLAIM : LeaseStep.WAIT;
  return LeaseStep.FOLLOW;
}
