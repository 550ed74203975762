// Everything a chaos scenario or the soak runs against: the Stigg emulator (in this process), the
// control plane as a child process in Stigg mode pointed at it, an "Envoy" (our proxy-wasm host with
// the built filter: the singleton sync role + 2 workers) on the control plane's sync port, and a
// Sidecar-API client on its gRPC port. Every answer becomes an Observation for the oracle.
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { ACCESS_DENIED_REASONS, type AccessDeniedReason } from "../../control/model/entitlements.ts";
import { loadSidecarPackage } from "../../control/api/sidecarProto.ts";
import { wireReason } from "../../control/api/sidecarMessages.ts";
import type { EntitlementCheck } from "../../control/evaluation/evaluate.ts";
import { EnvoyHost, type HttpFilter, type ServicePlugin } from "../host/index.ts";
import { startStiggEmulator, type StiggEmulator } from "../stigg/emulator.ts";
import {
  coldCustomerId, coldVariant, emulatorSpec, FILTER_ROUTES, FLIP_CUSTOMERS, FLIP_CYCLE, GATE_CONFIG, plan, SIDECAR_CHECKS,
  SIDECAR_FALLBACK, WARM_CUSTOMERS, type SidecarRpc, type Variant,
} from "./customers.ts";
import { Oracle, verdictOf, type Observation, type Outcome } from "./oracle.ts";
import { ControlPlaneChild, freePort, RedisChild, REPO_ROOT, sleep } from "./processes.ts";

export const FILTER_WASM = join(REPO_ROOT, "build/entitlement_gate.wasm");
export const VM_ID = "entitlements";
export const MISS_TIMEOUT_MS = 1_500;

const REASON_BY_WIRE = new Map<string, AccessDeniedReason>(
  (Object.keys(ACCESS_DENIED_REASONS) as AccessDeniedReason[]).map((reason) => [wireReason(reason), reason]),
);

export interface WorldOptions {
  /** Cold customers created in the emulator up front. */
  coldPool: number;
  /** Start a redis-server and give the control plane REDIS_* settings. */
  redis: boolean;
}

type UnaryMethod = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response: Record<string, unknown>) => void) => void;

export class World {
  readonly oracle = new Oracle();
  private flipStep = new Map<string, number>();
  private nextCold = 0;
  private filterWorker = 0;

  private constructor(
    readonly stigg: StiggEmulator,
    readonly controlPlane: ControlPlaneChild,
    readonly host: EnvoyHost,
    readonly sync: ServicePlugin,
    readonly filter: HttpFilter,
    private readonly sidecar: grpc.Client,
    private redisChild: RedisChild | undefined,
    readonly logDir: string,
    private readonly coldPool: number,
  ) {}

  static async start(options: WorldOptions): Promise<World> {
    const logDir = mkdtempSync(join(tmpdir(), "eg-chaos-"));
    const stigg = await startStiggEmulator({ onUnknownOperation: () => {} });
    const ports = { sync: await freePort(), grpc: await freePort(), http: await freePort() };
    let redis: RedisChild | undefined;
    const env: Record<string, string> = {
      SERVER_API_KEY: stigg.apiKey,
      API_URL: stigg.url,
      EDGE_API_URL: stigg.edgeUrl,
      WS_URL: stigg.wsUrl,
      MISS_TIMEOUT_MS: String(MISS_TIMEOUT_MS),
      ENTITLEMENTS_FALLBACK: SIDECAR_FALLBACK,
    };
    if (options.redis) {
      redis = new RedisChild(await freePort());
      await redis.start();
      Object.assign(env, { REDIS_ENVIRONMENT_PREFIX: "chaos", REDIS_HOST: "127.0.0.1", REDIS_PORT: String(redis.port) });
    }
    const controlPlane = new ControlPlaneChild(ports, env, join(logDir, "control-plane.log"));
    try {
      await controlPlane.start();
    } catch (error) {
      await controlPlane.close();
      await redis?.close();
      await stigg.close();
      throw error;
    }

    const host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: ports.sync } }, logLevel: "error" });
    const sync = await host.addSingletonService({
      vmId: VM_ID, rootId: "entitlement_sync", wasm: FILTER_WASM,
      configuration: JSON.stringify({ cluster: "control_plane", nodeId: "chaos-envoy", reconnectMinMs: 250, reconnectMaxMs: 2_000 }),
    });
    if (!sync.configureResult) throw new Error("the sync role rejected its configuration");
    const filter = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: FILTER_WASM, configuration: JSON.stringify(GATE_CONFIG), workers: 2 });
    if (filter.configureResults.some((ok) => !ok)) throw new Error("a worker rejected the filter configuration");

    const proto = grpc.loadPackageDefinition(loadSidecarPackage()) as unknown as { stigg: { sidecar: { v1: { SidecarService: grpc.ServiceClientConstructor } } } };
    // Fast reconnects: the client must notice the restarted control plane within a second, as a
    // production client with a short backoff would; the default backoff would measure the client.
    const sidecar = new proto.stigg.sidecar.v1.SidecarService(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure(), {
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1_000,
    });

    const world = new World(stigg, controlPlane, host, sync, filter, sidecar, redis, logDir, options.coldPool);
    const now = Date.now();
    for (const { id, variant } of WARM_CUSTOMERS) {
      if (variant === "absent") world.oracle.set(id, undefined, now);
      else world.setVariant(id, variant);
    }
    for (const id of FLIP_CUSTOMERS) world.setVariant(id, FLIP_CYCLE[0]!);
    for (let i = 0; i < options.coldPool; i++) world.setVariant(coldCustomerId(i), coldVariant(i));
    return world;
  }

  get redis(): RedisChild | undefined {
    return this.redisChild;
  }

  /** Redis started later (its scenario): closed with the world. */
  attachRedis(redis: RedisChild): void {
    this.redisChild = redis;
  }

  /** Changes what Stigg holds for a customer (events go out) and tells the oracle, at the same moment. */
  setVariant(customerId: string, variant: Variant): void {
    const entry = plan(customerId, variant);
    this.oracle.set(customerId, entry, Date.now());
    this.stigg.setCustomer(customerId, emulatorSpec(entry));
  }

  /** Moves a flip customer to its next plan; returns the customer changed. */
  flip(customerId: string): Variant {
    const step = ((this.flipStep.get(customerId) ?? 0) + 1) % FLIP_CYCLE.length;
    this.flipStep.set(customerId, step);
    const variant = FLIP_CYCLE[step]!;
    this.setVariant(customerId, variant);
    return variant;
  }

  /** A customer never asked for before (wraps around the pool: the soak runs longer than the pool lasts). */
  takeColdCustomer(): { id: string; cold: boolean } {
    const i = this.nextCold++;
    return { id: coldCustomerId(i % this.coldPool), cold: i < this.coldPool };
  }

  async filterRequest(customerId: string, route: (typeof FILTER_ROUTES)[number], cold = false): Promise<Observation> {
    const worker = this.filterWorker++ % this.filter.workers.length;
    const startedAt = Date.now();
    let outcome: Outcome;
    try {
      const r = await this.filter.request({
        headers: [[":method", "GET"], [":path", route.path], [":authority", "shop.local"], [":scheme", "http"], ["x-customer-id", customerId]],
        worker,
        timeoutMs: 3_000,
      });
      if (r.kind === "continue") {
        outcome = { kind: "decision", verdict: "allow", fallback: header(r.upstreamHeaders, "x-entitlement-fallback") === "true" };
      } else if (r.details === "entitlement_denied") {
        const reason = (JSON.parse(r.body) as { reason?: string }).reason ?? "?";
        outcome = { kind: "decision", verdict: `deny:${reason}`, fallback: header(r.headers, "x-entitlement-fallback") === "true" };
      } else {
        outcome = { kind: "error", message: `${r.status} ${r.details}` };
      }
    } catch (error) {
      outcome = { kind: "error", message: error instanceof Error ? error.message : String(error) };
    }
    return { api: "filter", customerId, check: route.check, cold, startedAt, endedAt: Date.now(), outcome };
  }

  async sidecarCall(customerId: string, rpc: SidecarRpc, check: EntitlementCheck, cold = false): Promise<Observation> {
    const startedAt = Date.now();
    const request: Record<string, unknown> = { customer_id: customerId, feature_id: check.featureId };
    if (check.requestedUsage !== undefined) request.options = { requested_usage: check.requestedUsage };
    const outcome = await new Promise<Outcome>((resolve) => {
      const method = (this.sidecar as unknown as Record<SidecarRpc, UnaryMethod>)[rpc].bind(this.sidecar);
      method(request, new grpc.Metadata(), { deadline: Date.now() + 3_000 }, (err, response) => {
        if (err) return resolve({ kind: "error", message: `${grpc.status[err.code] ?? err.code}` });
        const wire = response.access_denied_reason;
        const verdict = response.has_access === true ? "allow" : `deny:${typeof wire === "string" ? (REASON_BY_WIRE.get(wire) ?? wire) : "Unknown"}`;
        resolve({ kind: "decision", verdict, fallback: response.is_fallback === true });
      });
    });
    return { api: "sidecar", customerId, check, cold, startedAt, endedAt: Date.now(), outcome };
  }

  /** Every route and Sidecar check for one customer. */
  async probe(customerId: string): Promise<Observation[]> {
    const out: Observation[] = [];
    for (const route of FILTER_ROUTES) out.push(await this.filterRequest(customerId, route));
    for (const { rpc, check } of SIDECAR_CHECKS) out.push(await this.sidecarCall(customerId, rpc, check));
    return out;
  }

  /** True when a full probe of every cached customer is right, real (no fallback) and error-free. */
  async probeAllHealthy(): Promise<boolean> {
    for (const id of [...WARM_CUSTOMERS.map((c) => c.id), ...FLIP_CUSTOMERS]) {
      for (const o of await this.probe(id)) if (this.oracle.judge(o, 0) !== "ok") return false;
    }
    return true;
  }

  /** Waits until every cached customer answers right on both APIs; resolves with the time taken or undefined. */
  async waitHealthy(timeoutMs: number): Promise<number | undefined> {
    const started = performance.now();
    while (performance.now() - started < timeoutMs) {
      if (this.syncConnected() && (await this.probeAllHealthy())) return performance.now() - started;
      await sleep(100);
    }
    return undefined;
  }

  /**
   * A change published in Stigg after the fault must reach both APIs by itself (the event stream and
   * the sync stream work again). Resolves with the propagation time or undefined.
   */
  async canaryPropagation(timeoutMs: number): Promise<number | undefined> {
    const id = FLIP_CUSTOMERS[0]!;
    const before = this.oracle.current(id);
    this.flip(id);
    const started = performance.now();
    const route = FILTER_ROUTES.find((r) => this.oracle.expected(id, r.check, Date.now()) !== verdictOf(before, r.check, Date.now())) ?? FILTER_ROUTES[0]!;
    const side = SIDECAR_CHECKS.find((c) => this.oracle.expected(id, c.check, Date.now()) !== verdictOf(before, c.check, Date.now())) ?? SIDECAR_CHECKS[0]!;
    let filterOk = false;
    let sidecarOk = false;
    while (performance.now() - started < timeoutMs) {
      if (!filterOk) filterOk = this.isCurrent(id, route.check, await this.filterRequest(id, route));
      if (!sidecarOk) sidecarOk = this.isCurrent(id, side.check, await this.sidecarCall(id, side.rpc, side.check));
      if (filterOk && sidecarOk) return performance.now() - started;
      await sleep(20);
    }
    return undefined;
  }

  syncConnected(): boolean {
    return this.host.metric("entitlement_sync_connected") === 1;
  }

  filterMemoryBytes(): number {
    return [this.sync.vm, ...this.filter.workers].reduce((sum, vm) => sum + vm.memoryBytes(), 0);
  }

  async close(): Promise<void> {
    this.sidecar.close();
    await this.host.close();
    await this.controlPlane.close();
    await this.redisChild?.close();
    await this.stigg.close();
  }

  private isCurrent(customerId: string, check: EntitlementCheck, o: Observation): boolean {
    return o.outcome.kind === "decision" && !o.outcome.fallback && o.outcome.verdict === this.oracle.expected(customerId, check, o.startedAt);
  }
}

function header(headers: ReadonlyArray<[string, string]>, name: string): string | undefined {
  return headers.find(([k]) => k.toLowerCase() === name)?.[1];
}
