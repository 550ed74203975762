// Time source for ticks, call timeouts and proxy_get_current_time_nanoseconds. ManualClock lets tests
// step time deterministically; real sockets keep running on the real event loop either way.
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  nowMs(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
}

export class RealClock implements Clock {
  nowMs(): number {
    return Date.now();
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  }
}

interface ManualTimer {
  atMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private now: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: ManualTimer = { atMs: this.now + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Number of timers still waiting to fire. */
  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due in order (timers scheduled by a
   * firing timer fire too if they are due), and lets microtasks and ready I/O callbacks run between.
   */
  async advance(ms: number): Promise<void> {
    const target = this.now + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const t of this.timers) {
        if (t.atMs <= target && (next === undefined || t.atMs < next.atMs || (t.atMs === next.atMs && t.seq < next.seq))) {
          next = t;
        }
      }
      if (next === undefined) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.now = next.atMs;
      next.fn();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.now = target;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
