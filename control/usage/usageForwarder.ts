// Forwards the usage the Envoy filters count (FilterSync ReportUsage) to Stigg. Increments are summed
// per customer/resource/feature and sent as one ReportUsageBulk (DELTA) per flush, so a busy route
// costs one upstream call per interval instead of one per request (Stigg allows 6,000 requests/min
// per key for everything). A failed batch is merged back and retried with backoff; what waits is
// bounded, and anything dropped is logged and counted. Stigg's acknowledgement carries the new
// current usage, which the reader writes into the store, so every filter receives it as a delta.
import type { Logger } from "../log.ts";
import type { UsageReportInput, UsageWriter } from "../read/readTypes.ts";

export interface UsageIncrementInput {
  customerId: string;
  resourceId?: string;
  featureId: string;
  delta: number;
}

export interface UsageForwarderOptions {
  writer: UsageWriter;
  logger: Logger;
  /** How long increments are summed before a flush. Default 250 ms. */
  flushMs?: number;
  /** Distinct customer/feature pairs per ReportUsageBulk. Default 500. */
  maxBatch?: number;
  /** Distinct pairs held while Stigg is unreachable; beyond it new pairs are dropped (counted). Default 100,000. */
  maxPending?: number;
  /** Longest wait between retries of a failed batch. Default 30 s. */
  maxBackoffMs?: number;
}

function pairKey(increment: UsageIncrementInput): string {
  return `${increment.customerId}\u0000${increment.resourceId ?? ""}\u0000${increment.featureId}`;
}

export class UsageForwarder {
  private readonly pending = new Map<string, UsageIncrementInput>();
  private readonly writer: UsageWriter;
  private readonly logger: Logger;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private readonly maxPending: number;
  private readonly maxBackoffMs: number;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private backoffMs = 0;
  private closed = false;
  /** Increments dropped because `maxPending` was reached (for tests and logs). */
  dropped = 0;
  /** Upstream ReportUsageBulk calls made. */
  batchesSent = 0;

  constructor(options: UsageForwarderOptions) {
    this.writer = options.writer;
    this.logger = options.logger.child({ component: "usage-forwarder" });
    this.flushMs = options.flushMs ?? 250;
    this.maxBatch = options.maxBatch ?? 500;
    this.maxPending = options.maxPending ?? 100_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
  }

  /** Queues increments (already validated by the caller); returns how many were accepted. */
  add(increments: readonly UsageIncrementInput[]): number {
    let accepted = 0;
    for (const increment of increments) {
      if (increment.delta === 0) continue;
      const key = pairKey(increment);
      const held = this.pending.get(key);
      if (held) held.delta += increment.delta;
      else if (this.pending.size >= this.maxPending) {
        this.dropped++;
        continue;
      } else this.pending.set(key, { ...increment });
      accepted++;
    }
    if (this.dropped > 0 && this.dropped % 1000 === 1) {
      this.logger.warn({ dropped: this.dropped, pending: this.pending.size }, "usage increments dropped: too many customer/feature pairs waiting for Stigg");
    }
    this.schedule();
    return accepted;
  }

  get pendingPairs(): number {
    return this.pending.size;
  }

  /** Sends what is pending now (tests, shutdown). */
  flush(): Promise<void> {
    this.flushing ??= this.sendPending().finally(() => {
      this.flushing = undefined;
      this.schedule();
    });
    return this.flushing;
  }

  /** Stops the timer and makes one last attempt to deliver what is pending. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    if (this.pending.size > 0) await this.sendPending();
    if (this.pending.size > 0) this.logger.warn({ pending: this.pending.size }, "usage not delivered to Stigg before shutdown");
  }

  private schedule(): void {
    if (this.closed || this.timer || this.flushing || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs + this.backoffMs);
    this.timer.unref();
  }

  private async sendPending(): Promise<void> {
    while (this.pending.size > 0) {
      const batch: UsageIncrementInput[] = [];
      for (const [key, increment] of this.pending) {
        batch.push(increment);
        this.pending.delete(key);
        if (batch.length >= this.maxBatch) break;
      }
      const usages: UsageReportInput[] = batch.map((i) => ({
        customerId: i.customerId,
        ...(i.resourceId ? { resourceId: i.resourceId } : {}),
        featureId: i.featureId,
        value: i.delta,
        updateBehavior: "DELTA",
      }));
      try {
        this.batchesSent++;
        await this.writer.reportUsageBulk(usages);
        this.backoffMs = 0;
      } catch (err) {
        // Put the batch back (summing with anything added meanwhile) and retry later.
        for (const increment of batch) {
          const key = pairKey(increment);
          const held = this.pending.get(key);
          if (held) held.delta += increment.delta;
          else this.pending.set(key, increment);
        }
        this.backoffMs = Math.min(this.maxBackoffMs, Math.max(500, this.backoffMs * 2));
        this.logger.warn(
          { err: err instanceof Error ? err.message : String(err), pairs: batch.length, retryInMs: this.flushMs + this.backoffMs },
          "usage report to Stigg failed; will retry",
        );
        return;
      }
    }
  }
}
