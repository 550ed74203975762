/**
 * A token bucket that hands out reservations: a caller learns at once how long it must wait for its
 * token, and a caller that cannot wait that long takes nothing. Waiters are therefore served in
 * arrival order without a queue, and a refused caller does not slow anyone down.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAtMs: number;
  private readonly refillPerMs: number;

  /**
   * @param ratePerMinute steady rate (Stigg Edge allows 6,000 requests/min per API key)
   * @param capacity burst size; also the starting balance
   * @param nowMs monotonic clock, injectable for tests
   */
  constructor(
    ratePerMinute: number,
    readonly capacity: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    if (!(ratePerMinute > 0) || !Number.isFinite(ratePerMinute)) throw new RangeError("ratePerMinute must be > 0");
    if (!(capacity >= 1) || !Number.isFinite(capacity)) throw new RangeError("capacity must be >= 1");
    this.refillPerMs = ratePerMinute / 60_000;
    this.tokens = capacity;
    this.updatedAtMs = nowMs();
  }

  private refill(): void {
    const now = this.nowMs();
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAtMs) * this.refillPerMs);
    this.updatedAtMs = now;
  }

  /** Tokens available now (negative while reservations are outstanding). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /**
   * Reserves one token if it becomes available within `maxWaitMs`. Returns the wait in milliseconds
   * (0 = go now), or undefined when the wait would be longer; nothing is taken in that case.
   */
  reserve(maxWaitMs: number): number | undefined {
    this.refill();
    const waitMs = this.tokens >= 1 ? 0 : (1 - this.tokens) / this.refillPerMs;
    if (waitMs > maxWaitMs) return undefined;
    this.tokens -= 1;
    return waitMs;
  }

  /** Empties the bucket so that traffic resumes at the steady rate, not in a burst (after a 429). */
  drain(): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0);
  }
}
