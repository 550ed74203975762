// Steady mixed traffic: filter requests and Sidecar checks for the cached customers (every route and
// check, round robin), plus a trickle of cold customers that must miss. Each loop is paced, bounded
// by `stop()` and by a hard deadline, and never throws.
import { FILTER_ROUTES, FLIP_CUSTOMERS, SIDECAR_CHECKS, WARM_CUSTOMERS } from "./customers.ts";
import type { Observation } from "./oracle.ts";
import { sleep } from "./processes.ts";
import type { World } from "./world.ts";

export interface TrafficRates {
  /** Filter requests per second for cached customers. */
  filter: number;
  sidecar: number;
  /** Cold customers per second (alternating filter and Sidecar). */
  cold: number;
}

export const DEFAULT_RATES: TrafficRates = { filter: 150, sidecar: 40, cold: 4 };

export class Traffic {
  private stopping = false;
  private loops: Promise<void>[] = [];
  private readonly cached = [...WARM_CUSTOMERS.map((c) => c.id), ...FLIP_CUSTOMERS];

  constructor(
    private readonly world: World,
    private readonly sink: (observation: Observation) => void,
    private readonly rates: TrafficRates = DEFAULT_RATES,
    private readonly maxMs = 15 * 60_000,
  ) {}

  start(): void {
    const deadline = performance.now() + this.maxMs;
    let f = 0;
    let s = 0;
    let c = 0;
    this.loops = [
      this.loop(this.rates.filter, deadline, async () => {
        const i = f++;
        const id = this.cached[i % this.cached.length]!;
        const route = FILTER_ROUTES[Math.floor(i / this.cached.length) % FILTER_ROUTES.length]!;
        this.sink(await this.world.filterRequest(id, route));
      }),
      this.loop(this.rates.sidecar, deadline, async () => {
        const i = s++;
        const id = this.cached[i % this.cached.length]!;
        const { rpc, check } = SIDECAR_CHECKS[Math.floor(i / this.cached.length) % SIDECAR_CHECKS.length]!;
        this.sink(await this.world.sidecarCall(id, rpc, check));
      }),
      this.loop(this.rates.cold, deadline, async () => {
        const i = c++;
        const { id, cold } = this.world.takeColdCustomer();
        if (i % 2 === 0) this.sink(await this.world.filterRequest(id, FILTER_ROUTES[0]!, cold));
        else this.sink(await this.world.sidecarCall(id, SIDECAR_CHECKS[0]!.rpc, SIDECAR_CHECKS[0]!.check, cold));
      }),
    ];
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private async loop(perSecond: number, deadline: number, step: () => Promise<void>): Promise<void> {
    if (perSecond <= 0) return;
    const interval = 1000 / perSecond;
    let next = performance.now();
    while (!this.stopping && performance.now() < deadline) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`traffic: ${error instanceof Error ? error.message : String(error)}\n`);
      }
      next += interval;
      const wait = next - performance.now();
      // A slow answer (a fault) is not made up for by a burst afterwards.
      if (wait < -interval) next = performance.now();
      else if (wait > 0) await sleep(wait);
    }
  }
}
