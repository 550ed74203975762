// State one EnvoyHost shares between all of its VMs: what in Envoy is process-wide
// (shared data, queues, stats, clusters, the main dispatcher) plus the log sink.
import { type Clock, RealClock } from "./clock.ts";
import { MetricRegistry } from "./metrics.ts";
import { CasSequence, SharedDataStore } from "./sharedData.ts";
import { SharedQueues } from "./sharedQueues.ts";
import { type ClusterTarget, UpstreamConnections } from "./upstreamConnections.ts";

export interface LogEntry {
  vm: string;
  level: number;
  message: string;
}

const LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "critical"];

export class HostRuntime {
  readonly clock: Clock;
  readonly clusters = new Map<string, ClusterTarget>();
  /** Keys are NUL-separated property paths. */
  readonly properties = new Map<string, Uint8Array>();
  readonly cas = new CasSequence();
  readonly metrics = new MetricRegistry();
  readonly queues: SharedQueues;
  readonly logEntries: LogEntry[] = [];
  readonly connections = new UpstreamConnections();
  closed = false;
  private readonly stores = new Map<string, SharedDataStore>();
  private pending = 0;

  constructor(
    clock: Clock | undefined,
    readonly logLevel: number,
    readonly printLogs: boolean,
  ) {
    this.clock = clock ?? new RealClock();
    this.queues = new SharedQueues((fn) => this.post(fn));
  }

  store(vmId: string): SharedDataStore {
    let store = this.stores.get(vmId);
    if (store === undefined) {
      store = new SharedDataStore(vmId, this.cas);
      this.stores.set(vmId, store);
    }
    return store;
  }

  /** Runs fn on a later event-loop turn, like a post to an Envoy dispatcher. */
  post(fn: () => void): void {
    this.pending++;
    setImmediate(() => {
      this.pending--;
      if (!this.closed) fn();
    });
  }

  /** Resolves once every posted callback (and any it posted in turn) has run. */
  async flush(): Promise<void> {
    do {
      await new Promise<void>((resolve) => setImmediate(resolve));
    } while (this.pending > 0);
  }

  log(vm: string, level: number, message: string): void {
    if (level < this.logLevel) return;
    this.logEntries.push({ vm, level, message });
    if (this.printLogs) console.error(`[${LEVEL_NAMES[level] ?? level}][${vm}] ${message}`);
  }
}
