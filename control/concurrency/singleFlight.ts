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
 * Waiters released per turn of the event loop when a flight settles. A burst of 1,000 checks waiting on
 * one Edge fetch would otherwise all continue in one microtask run, and none of their answers would
 * reach a socket until the last was encoded (~40 ms later on the development machine); in batches, the
 * first answers leave while the rest are still being made, which halves the burst's median.
 */
export const RELEASE_BATCH = 64;

type Outcome<V> = { ok: true; value: V } | { ok: false; error: unknown };

interface Waiter<V> {
  settle(outcome: Outcome<V>): void;
}

interface Flight<V> {
  readonly promise: Promise<V>;
  readonly waiters: Waiter<V>[];
}

/**
 * Collapses concurrent calls with the same key into one: the first caller starts `fn`, later callers
 * share its result until it settles, then the key is free for a fresh call. Used so a burst of misses
 * for one customer costs one upstream fetch (design decision 4), and a rejection reaches every waiter
 * of that flight. Waiters are released in batches of RELEASE_BATCH per event-loop turn, in arrival order.
 */
export class SingleFlight<K, V> {
  private readonly flights = new Map<K, Flight<V>>();

  /** Number of keys with a call in progress. */
  get size(): number {
    return this.flights.size;
  }

  has(key: K): boolean {
    return this.flights.has(key);
  }

  run(key: K, fn: () => Promise<V>, options: WaitOptions = {}): Promise<V> {
    const flight = this.flights.get(key) ?? this.start(key, fn);
    return waitFor(flight, options);
  }

  private start(key: K, fn: () => Promise<V>): Flight<V> {
    let promise: Promise<V>;
    try {
      promise = Promise.resolve(fn());
    } catch (error) {
      promise = Promise.reject(error);
    }
    const flight: Flight<V> = { promise, waiters: [] };
    this.flights.set(key, flight);
    const settle = (outcome: Outcome<V>): void => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
      release(flight.waiters, 0, outcome);
    };
    // Both handlers observe the flight, so its rejection is never unhandled even with no waiter left.
    promise.then(
      (value) => settle({ ok: true, value }),
      (error: unknown) => settle({ ok: false, error }),
    );
    return flight;
  }
}

function release<V>(waiters: Waiter<V>[], from: number, outcome: Outcome<V>): void {
  const end = Math.min(waiters.length, from + RELEASE_BATCH);
  for (let i = from; i < end; i++) waiters[i]!.settle(outcome);
  if (end < waiters.length) setImmediate(release<V>, waiters, end, outcome);
}

function waitFor<V>(flight: Flight<V>, { signal, timeoutMs }: WaitOptions): Promise<V> {
  if (signal?.aborted) return Promise.reject(new WaitAbortedError(signal.reason));
  return new Promise<V>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (finish()) reject(new WaitAbortedError(signal?.reason));
    };
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        if (finish()) reject(new WaitTimeoutError(timeoutMs));
      }, Math.max(0, timeoutMs));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    flight.waiters.push({
      settle: (outcome) => {
        if (!finish()) return;
        if (outcome.ok) resolve(outcome.value);
        else reject(outcome.error);
      },
    });
  });
}
