// The lease that picks one worker VM to run the sync role when no singleton exists (Istio WasmPlugin).
// Every worker's root context checks `eg1/sync/lease` on its tick; the holder renews every third of the
// TTL with compare-and-swap on the cas it just read; anyone may take a lease past its expiry. A holder
// torn down releases it (expiry 0), and followers read it on every tick, so the next holder takes over
// one tick later instead of a TTL later.
import { Status } from "../binding/constants";
import { getSharedData, setSharedData } from "../binding/sharedData";
import { nowNanos } from "../binding/time";
import { LeaseStep, SYNC_HOLDERS_KEY, SYNC_LEASE_KEY, formatLease, leaseStep, parseLease } from "../logic/leaseValue";
import { readU32, u32Bytes } from "../logic/sharedKeys";

/**
 * A holder id no other worker VM has: a CAS-incremented counter in shared data, plus clock bits in case
 * two VMs create the counter at the same instant (cas 0 writes always succeed).
 */
export function newHolderId(): string {
  let n: u32 = 0;
  for (let attempt = 0; attempt < 16; attempt++) {
    const current = getSharedData(SYNC_HOLDERS_KEY);
    n = readU32(current.value) + 1;
    if (setSharedData(SYNC_HOLDERS_KEY, u32Bytes(n), current.found ? current.cas : 0) == Status.OK) break;
  }
  return "w" + n.toString() + "-" + (nowNanos() & 0xffffff).toString(16);
}

export class LeaderLease {
  holding: bool = false;
  private nextCheckMs: i64 = 0;
  /** The live lease a follower last read (its cas and expiry): unchanged and unexpired → nothing to decide. */
  private followedCas: u32 = 0;
  private followedExpiryMs: i64 = 0;

  constructor(public holderId: string, public ttlMs: i64) {}

  /**
   * Returns whether this worker holds the lease. The holder checks at most every third of the TTL (unless
   * `force`); a follower reads it every time (one shared-data read per tick), so a released lease is
   * taken on the next tick.
   */
  check(nowMs: i64, force: bool): bool {
    if (!force && this.holding && nowMs < this.nextCheckMs) return true;
    const current = getSharedData(SYNC_LEASE_KEY);
    if (!force && !this.holding && current.found && current.cas == this.followedCas && nowMs < this.followedExpiryMs) return false;
    this.nextCheckMs = nowMs + max<i64>(1, this.ttlMs / 3);
    const lease = parseLease(current.value);
    const step = leaseStep(lease, this.holderId, nowMs, this.ttlMs);
    if (step == LeaseStep.FOLLOW) {
      this.holding = false;
      this.followedCas = current.cas;
      this.followedExpiryMs = lease !== null ? lease.expiryMs : 0;
    } else if (step == LeaseStep.WAIT) {
      this.holding = true;
    } else if (step == LeaseStep.CLAIM) {
      const value = String.UTF8.encode(formatLease(this.holderId, nowMs + this.ttlMs));
      const status = setSharedData(SYNC_LEASE_KEY, value, current.found ? current.cas : 0);
      if (status != Status.OK) {
        this.holding = false;
      } else if (current.found) {
        this.holding = true;
      } else {
        // A first claim (cas 0) always writes: read back to see whose claim landed last.
        const after = parseLease(getSharedData(SYNC_LEASE_KEY).value);
        this.holding = after !== null && after.holder == this.holderId;
      }
    }
    return this.holding;
  }

  /**
   * Lets the lease expire at once so another worker can take over (teardown, reconfiguration without
   * sync). Only our own lease, written with the cas just read: a newer holder's is never overwritten.
   */
  release(): void {
    if (!this.holding) return;
    const current = getSharedData(SYNC_LEASE_KEY);
    const lease = parseLease(current.value);
    if (current.found && lease !== null && lease.holder == this.holderId) {
      setSharedData(SYNC_LEASE_KEY, String.UTF8.encode(formatLease(this.holderId, 0)), current.cas);
    }
    this.holding = false;
  }
}
