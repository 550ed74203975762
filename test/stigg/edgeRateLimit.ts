// Stigg's Edge limit: a number of requests per API key per minute, shared by every Edge endpoint,
// answered with 429 and no Retry-After (reference e.1). Stigg does not publish the algorithm; a
// sliding window is the strictest reading of "6,000 requests per minute".

export interface EdgeRateLimit {
  requests: number;
  /** Default 60 000 (one minute). */
  windowMs?: number;
}

export class EdgeRateLimiter {
  readonly #hits = new Map<string, number[]>();
  #limit: EdgeRateLimit | undefined;

  set(limit: EdgeRateLimit | undefined): void {
    this.#limit = limit ? { ...limit } : undefined;
    this.#hits.clear();
  }

  /** Counts one request for `apiKey`; false when it is over the limit (and so not counted). */
  admit(apiKey: string, now: number): boolean {
    if (!this.#limit) return true;
    const windowMs = this.#limit.windowMs ?? 60_000;
    const hits = (this.#hits.get(apiKey) ?? []).filter((at) => at > now - windowMs);
    if (hits.length >= this.#limit.requests) {
      this.#hits.set(apiKey, hits);
      return false;
    }
    hits.push(now);
    this.#hits.set(apiKey, hits);
    return true;
  }
}
