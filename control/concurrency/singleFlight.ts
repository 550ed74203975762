/** A waiter stopped waiting because its own deadline passed; the shared call keeps running. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  constructor(readonly timeoutMs: number) {
    super(`gave up waiting after ${timeoutMs} ms`);
  }
}

/** A waiter stopped waiting because its signal was aborted; the shared call keeps running. */
export class WaitAbortedError extends Error {
  override readonly name = "WaitAbortedError";
  constructor(override readonly cause: unknown) {
    super("stopped waiting: aborted");
  }
}

export interface WaitOptions {
  /** Stops this caller's wait only. */
  signal?: AbortSignal;
  /** Stops this caller's wait only; the result still reaches the other waiters. */
  timeoutMs?: number;
}

/**
 * Collapses concurrent calls with the same key into one: the first caller starts `fn`, later callers
 * share its promise until it settles, then the key is free for a fresh call. Used so a burst of
 * misses for one customer costs one upstream fetch (design decision 4), and a rejection reaches
 * every waiter of that flight.
 */
export class SingleFlight<K, V> {
  private readonly flights = new Map<K, Promise<V>>();

  /** Number of keys with a call in progress. */
  get size(): number {
    return this.flights.size;
  }

  has(key: K): boolean {
    return this.flights.has(key);
  }

  run(key: K, fn: () => Promise<V>, options: WaitOptions = {}): Promise<V> {
    let flight = this.flights.get(key);
    if (flight === undefined) {
      flight = this.start(key, fn);
    }
    return waitFor(flight, options);
  }

  private start(key: K, fn: () => Promise<V>): Promise<V> {
    let flight: Promise<V>;
    try {
      flight = Promise.resolve(fn());
    } catch (error) {
      flight = Promise.reject(error);
    }
    this.flights.set(key, flight);
    const release = (): void => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    };
    // then(release, release) rather than finally(): a finally() chain would be a second promise
    // rejecting unobserved whenever the call fails.
    flight.then(release, release);
    return flight;
  }
}

function waitFor<V>(flight: Promise<V>, { signal, timeoutMs }: WaitOptions): Promise<V> {
  if (signal === undefined && timeoutMs === undefined) return flight;
  if (signal?.aborted) {
    // The flight's own rejection is still observed through the map's release handler.
    return Promise.reject(new WaitAbortedError(signal.reason));
  }
  return new Promise<V>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      cleanup();
      reject(new WaitAbortedError(signal?.reason));
    };
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        cleanup();
        reject(new WaitTimeoutError(timeoutMs));
      }, Math.max(0, timeoutMs));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    flight.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}
