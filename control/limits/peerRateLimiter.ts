// A token bucket per client address. The table of buckets is bounded: past `maxPeers` the oldest entry
// is dropped, so a flood of distinct addresses costs a fixed amount of memory (the dropped peer merely
// starts again with a full bucket).
import { TokenBucket } from "../concurrency/tokenBucket.ts";

export interface PeerRateLimiterOptions {
  ratePerSecond: number;
  /** Calls a peer may make at once after being idle; defaults to one second's worth (at least 1). */
  burst?: number;
  maxPeers?: number;
  nowMs?: () => number;
}

export class PeerRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly burst: number;
  private readonly maxPeers: number;

  constructor(private readonly options: PeerRateLimiterOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) throw new RangeError("ratePerSecond must be > 0");
    this.burst = Math.max(1, options.burst ?? Math.ceil(options.ratePerSecond));
    this.maxPeers = options.maxPeers ?? 10_000;
  }

  get ratePerSecond(): number {
    return this.options.ratePerSecond;
  }

  get peers(): number {
    return this.buckets.size;
  }

  /** Takes one token for `peer`; false = over the rate, refuse the call. */
  tryTake(peer: string): boolean {
    let bucket = this.buckets.get(peer);
    if (!bucket) {
      if (this.buckets.size >= this.maxPeers) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
      bucket = new TokenBucket(this.options.ratePerSecond * 60, this.burst, this.options.nowMs);
      this.buckets.set(peer, bucket);
    }
    return bucket.reserve(0) !== undefined;
  }
}
