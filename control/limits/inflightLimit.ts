// A cap on work in progress. An acquire over the cap fails at once: an overloaded server answers
// "try later" in microseconds instead of queueing callers until their deadlines pass, which would keep
// every caller waiting and the memory growing.
export class InflightLimiter {
  private active = 0;

  /** @param max concurrent holders; 0 = no cap */
  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError("max must be a whole number >= 0");
  }

  get inflight(): number {
    return this.active;
  }

  /** Takes a slot; false when the cap is reached. The caller owes exactly one `release()` per true. */
  acquire(): boolean {
    if (this.max !== 0 && this.active >= this.max) return false;
    this.active++;
    return true;
  }

  /** Gives back a slot taken by `acquire()`. */
  release(): void {
    if (this.active > 0) this.active--;
  }

  /** Returns the release function, or undefined when the cap is reached. Release is idempotent. */
  tryAcquire(): (() => void) | undefined {
    if (!this.acquire()) return undefined;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }
}
