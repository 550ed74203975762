// The Envoy stand-in: creates VMs for bootstrap services and HTTP filters, starts and configures
// them in cpp-host's order, routes requests to worker VMs, and owns everything they share.
import { LogLevel, type LogLevelName } from "./abi.ts";
import type { Clock } from "./clock.ts";
import type { MetricValue } from "./metrics.ts";
import type { LogEntry } from "./runtime.ts";
import { HostRuntime } from "./runtime.ts";
import type { SharedDataStore } from "./sharedData.ts";
import { hostReply, type HttpRequestSpec, type HttpResult, StreamRun } from "./streamRun.ts";
import type { ClusterTarget } from "./upstreamConnections.ts";
import { compilePlugin, type CompiledPlugin, type PluginInfo, type PluginSpec, type Vm, WasmLoadError, WasmVm } from "./vm.ts";

export interface HostOptions {
  clusters?: Record<string, ClusterTarget>;
  clock?: Clock;
  /** What proxy_get_log_level answers and the lowest level recorded; default "info". */
  logLevel?: LogLevelName;
  /** Also print every recorded log line to stderr. */
  printLogs?: boolean;
  /** Extra proxy_get_property values, keyed by NUL-separated path (e.g. "node\0id"). */
  properties?: Record<string, string>;
}

export interface ServicePlugin {
  vm: Vm;
  configureResult: boolean;
  /** Calls proxy_on_configure again with a new plugin configuration. */
  reconfigure(json: string): boolean;
  /** Removes the plugin as Envoy does (see HttpFilter.teardown). */
  teardown(): Promise<void>;
}

export interface HttpFilter {
  workers: Vm[];
  configureResults: boolean[];
  /** Runs one request; waits while the plugin pauses, until continue, a local reply or timeoutMs. */
  request(req: HttpRequestSpec): Promise<HttpResult>;
  /** Same, without awaiting: throws if the plugin pauses the stream. */
  requestSync(req: HttpRequestSpec): HttpResult;
  reconfigure(json: string): boolean[];
  /** Marks that worker's VM failed, as a trap would. */
  killWorker(index: number): void;
  /**
   * Removes the plugin as Envoy does when its configuration goes away: on every worker VM, proxy_on_done on
   * the root context, then proxy_on_delete, or, if proxy_on_done returned false, once the plugin calls
   * proxy_done (the root keeps its ticks and callbacks meanwhile). Requests are refused from the call on;
   * resolves once every root is deleted. Idempotent.
   */
  teardown(): Promise<void>;
}

/** A consumer of a shared queue outside any VM, standing in for the VM that registers and drains it. */
export interface SharedQueueConsumer {
  readonly id: number;
  /** The oldest item, as proxy_dequeue_shared_queue would give it, or null when the queue is empty. */
  dequeue(): Uint8Array | null;
  /** Dequeues until the queue is empty; returns how many items it took. */
  drain(): number;
}

const encoder = new TextEncoder();

function pluginInfo(spec: PluginSpec): PluginInfo {
  return {
    vmId: spec.vmId,
    rootId: spec.rootId,
    name: spec.name ?? spec.rootId,
    configuration: encoder.encode(spec.configuration),
    vmConfiguration: encoder.encode(spec.vmConfiguration ?? ""),
    environment: Object.entries(spec.environmentVariables ?? {}),
  };
}

/** proxy_on_configure with the configuration readable as buffer 7 for the duration of the call. */
function configure(vm: WasmVm, configuration: Uint8Array): boolean {
  vm.plugin.configuration = configuration;
  if (vm.failed) return false;
  const result = vm.callInScope(vm.root, { pluginConfiguration: configuration }, "proxy_on_configure", vm.root.id, configuration.length);
  if (vm.failed) return false;
  return result === undefined || result !== 0;
}

function startVm(runtime: HostRuntime, compiled: CompiledPlugin, spec: PluginSpec, id: string): { vm: WasmVm; configured: boolean } {
  const vm = new WasmVm(id, runtime, compiled, pluginInfo(spec));
  // The root context exists (id 1) before start so host calls made from _initialize have a home.
  const root = vm.createRootContext();
  vm.start();
  vm.callIn(root, "proxy_on_context_create", root.id, 0);
  const started = vm.callInScope(root, { vmConfiguration: vm.plugin.vmConfiguration }, "proxy_on_vm_start", root.id, vm.plugin.vmConfiguration.length);
  if (vm.failed) throw new WasmLoadError(`Failed to start Wasm VM ${id}: ${vm.failure}`);
  if (started === 0) throw new WasmLoadError(`Failed to start Wasm VM ${id}: proxy_on_vm_start returned false`);
  return { vm, configured: configure(vm, vm.plugin.configuration) };
}

export class EnvoyHost {
  private readonly runtime: HostRuntime;
  private readonly vms: WasmVm[] = [];
  private readonly activeRuns = new Set<StreamRun>();
  private closed = false;

  constructor(options: HostOptions = {}) {
    this.runtime = new HostRuntime(options.clock, LogLevel[options.logLevel ?? "info"], options.printLogs ?? false);
    for (const [name, target] of Object.entries(options.clusters ?? {})) this.runtime.clusters.set(name, target);
    for (const [path, value] of Object.entries(options.properties ?? {})) this.runtime.properties.set(path, encoder.encode(value));
  }

  /** A bootstrap WasmService with singleton: true: one VM on the "main thread". */
  async addSingletonService(spec: PluginSpec): Promise<ServicePlugin> {
    if (this.closed) throw new Error("EnvoyHost is closed");
    const compiled = await compilePlugin(spec.wasm);
    const { vm, configured } = startVm(this.runtime, compiled, spec, `${spec.vmId}/${spec.rootId}/singleton`);
    this.vms.push(vm);
    const plugin: ServicePlugin = {
      vm,
      configureResult: configured,
      reconfigure: (json) => {
        plugin.configureResult = configure(vm, encoder.encode(json));
        return plugin.configureResult;
      },
      teardown: () => vm.startShutdown(),
    };
    return plugin;
  }

  /** An HTTP filter: one VM per worker, all sharing shared data and queues through their vmId. */
  async addHttpFilter(spec: PluginSpec & { workers: number }): Promise<HttpFilter> {
    if (this.closed) throw new Error("EnvoyHost is closed");
    if (!Number.isInteger(spec.workers) || spec.workers < 1) throw new RangeError(`workers must be a positive integer (got ${spec.workers})`);
    const compiled = await compilePlugin(spec.wasm);
    const workers: WasmVm[] = [];
    const configureResults: boolean[] = [];
    for (let i = 0; i < spec.workers; i++) {
      const { vm, configured } = startVm(this.runtime, compiled, spec, `${spec.vmId}/${spec.rootId}/worker${i}`);
      workers.push(vm);
      configureResults.push(configured);
      this.vms.push(vm);
    }
    let next = 0;
    const policy = spec.failurePolicy ?? "FAIL_CLOSED";
    const backoffMs = spec.reloadBackoffMs ?? 1000;
    const lastReloadMs: Array<number | undefined> = workers.map(() => undefined);
    const reload = (index: number): void => {
      const now = this.runtime.clock.nowMs();
      const last = lastReloadMs[index];
      if (last !== undefined && now - last < backoffMs) return;
      lastReloadMs[index] = now;
      const old = workers[index]!;
      try {
        const { vm, configured } = startVm(this.runtime, compiled, spec, old.id);
        workers[index] = vm;
        configureResults[index] = configured;
        this.vms.push(vm);
        this.runtime.log(old.id, LogLevel.warn, "host: FAIL_RELOAD created a new VM for this worker");
      } catch (e) {
        this.runtime.log(old.id, LogLevel.error, `host: FAIL_RELOAD could not create a new VM: ${(e as Error).message}`);
      }
    };
    let tornDown: Promise<void> | undefined;
    const pick = (req: HttpRequestSpec): WasmVm => {
      if (this.closed) throw new Error("EnvoyHost is closed");
      if (tornDown !== undefined) throw new Error(`the HTTP filter ${spec.rootId} was torn down`);
      let index: number;
      if (req.worker !== undefined) {
        if (workers[req.worker] === undefined) throw new RangeError(`no worker ${req.worker} (have ${workers.length})`);
        index = req.worker;
      } else {
        index = next % workers.length;
        next++;
      }
      if (workers[index]!.failed && policy === "FAIL_RELOAD") reload(index);
      return workers[index]!;
    };
    const failOpen = policy === "FAIL_OPEN";
    const filter: HttpFilter = {
      workers,
      configureResults,
      request: (req) =>
        new Promise<HttpResult>((resolve) => {
          const run: StreamRun = new StreamRun(
            pick(req),
            req,
            (result) => {
              this.activeRuns.delete(run);
              resolve(result);
            },
            failOpen,
          );
          this.activeRuns.add(run);
          run.start();
        }),
      requestSync: (req) => {
        let out: HttpResult | undefined;
        const run = new StreamRun(
          pick(req),
          req,
          (result) => {
            out = result;
          },
          failOpen,
        );
        run.start();
        if (out === undefined) {
          run.abandon(hostReply(500, "host_sync_pause"));
          throw new Error("requestSync: the plugin paused the stream; use request() for paths that pause");
        }
        return out;
      },
      reconfigure: (json) => {
        const bytes = encoder.encode(json);
        workers.forEach((vm, i) => {
          configureResults[i] = configure(vm, bytes);
        });
        return [...configureResults];
      },
      killWorker: (index) => {
        const vm = workers[index];
        if (vm === undefined) throw new RangeError(`no worker ${index}`);
        vm.fail("killed by test");
      },
      teardown: () => {
        tornDown ??= Promise.all(workers.map((vm) => vm.startShutdown())).then(() => undefined);
        return tornDown;
      },
    };
    return filter;
  }

  sharedData(vmId: string): SharedDataStore {
    return this.runtime.store(vmId);
  }

  /** Summed over all VMs, as one Envoy stat; name without the "wasmcustom." prefix. */
  metric(name: string): number | undefined {
    return this.runtime.metrics.get(name.replace(/^wasmcustom\./, ""))?.value;
  }

  metrics(): Map<string, MetricValue> {
    return this.runtime.metrics.snapshot();
  }

  logs(): LogEntry[] {
    return [...this.runtime.logEntries];
  }

  setCluster(name: string, target: ClusterTarget): void {
    this.runtime.clusters.set(name, target);
  }

  /**
   * Registers (vmId, name) as proxy_register_shared_queue from a VM of that vm_id would (taking delivery
   * over from an earlier registrant, keeping queued items), for a test or bench to drain the queue itself.
   */
  registerSharedQueue(vmId: string, name: string): SharedQueueConsumer {
    if (this.closed) throw new Error("EnvoyHost is closed");
    const queues = this.runtime.queues;
    const id = queues.register(vmId, name, { queueReady: () => {}, alive: () => !this.runtime.closed });
    const dequeue = (): Uint8Array | null => queues.dequeue(id) ?? null;
    return {
      id,
      dequeue,
      drain: () => {
        let taken = 0;
        while (dequeue() !== null) taken++;
        return taken;
      },
    };
  }

  /** Items waiting in a shared queue (undefined if nobody registered it). */
  queueSize(vmId: string, name: string): number | undefined {
    return this.runtime.queues.size(vmId, name);
  }

  /** Resolves once every posted callback (queue deliveries) has run. */
  flush(): Promise<void> {
    return this.runtime.flush();
  }

  /** Cancels timers, ends paused requests, closes every connection; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.runtime.closed = true;
    for (const run of [...this.activeRuns]) {
      run.abandon(hostReply(503, "host_closed"));
    }
    for (const vm of this.vms) vm.shutdown();
    this.runtime.connections.closeAll();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
