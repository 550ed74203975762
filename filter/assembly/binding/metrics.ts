// Envoy stats defined by the plugin (exposed as wasmcustom.<name>). A metric whose definition failed
// stays inert: every update is skipped instead of failing the request.
import { proxy_define_metric, proxy_increment_metric, proxy_record_metric } from "./imports";
import { MetricType, Status } from "./constants";
import { OUT_WORD } from "./memory";
import { logWarn } from "./log";

export class Metric {
  defined: bool = false;
  id: u32 = 0;
  /** Counted by count() and not yet added to the stat: flush() adds it. */
  pending: i64 = 0;

  constructor(public name: string, public metricType: i32) {
    const bytes = String.UTF8.encode(name);
    store<u32>(OUT_WORD, 0);
    const status = proxy_define_metric(metricType, changetype<usize>(bytes), <usize>bytes.byteLength, OUT_WORD);
    if (status == Status.OK) {
      this.id = load<u32>(OUT_WORD);
      this.defined = true;
    } else {
      logWarn("could not define metric " + name + ": status " + status.toString());
    }
  }

  increment(delta: i64 = 1): void {
    if (this.defined) proxy_increment_metric(this.id, delta);
  }

  /**
   * Counts one in this VM's memory, without a host call; the stat sees it at the next flush(). For
   * per-request counters, whose sinks read them every few seconds anyway.
   */
  count(): void {
    this.pending++;
  }

  /** Adds what count() gathered with one host call; nothing when there is nothing to add. */
  flush(): void {
    const pending = this.pending;
    if (pending == 0) return;
    this.pending = 0;
    this.increment(pending);
  }

  record(value: u64): void {
    if (this.defined) proxy_record_metric(this.id, value);
  }
}

export function counter(name: string): Metric { return new Metric(name, MetricType.COUNTER); }
export function gauge(name: string): Metric { return new Metric(name, MetricType.GAUGE); }
