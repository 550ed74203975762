// The faults, one scenario each. A scenario injects its fault under the running traffic, makes the
// entitlement changes that the fault could hide, removes the fault, and says what the design documents
// for it (which fallbacks, errors and stale answers are expected, and where). The runner measures the
// rest: wrong answers, recovery, time to recover.
import { FLIP_CUSTOMERS, WARM_CUSTOMERS } from "./customers.ts";
import type { Observation } from "./oracle.ts";
import { RedisChild, freePort, sleep } from "./processes.ts";
import type { DocumentedEffects } from "./tally.ts";
import type { HttpFault } from "../stigg/faults.ts";
import { MISS_TIMEOUT_MS, type World } from "./world.ts";

export interface FaultRun {
  faultStart: number;
  faultEnd: number;
  documented: DocumentedEffects;
  notes: string[];
  /** Wait for a cold customer to be answered for real again before judging recovery. */
  coldMustRecover?: boolean;
}

export interface Scenario {
  name: string;
  fault: string;
  /** Why it cannot run here, or undefined. */
  skipReason?: () => string | undefined;
  /** Work before the judged part (e.g. restarting the control plane with other settings). */
  setup?: (world: World) => Promise<string[]>;
  run: (world: World) => Promise<FaultRun>;
}

const cold = (o: Observation): boolean => o.cold;
/** In flight at some moment of [from, to]: a request already on its way when the fault hits counts. */
const between = (from: number, to: number) => (o: Observation): boolean => o.endedAt >= from && o.startedAt <= to;
const both = (a: (o: Observation) => boolean, b: (o: Observation) => boolean) => (o: Observation): boolean => a(o) && b(o);

const CACHED_IDS = [...WARM_CUSTOMERS.map((c) => c.id), ...FLIP_CUSTOMERS];

/** Counts Edge entitlement reads for the cached customers from now on (cold misses left out). */
function edgeReads(world: World): () => number {
  const count = (): number => CACHED_IDS.reduce((sum, customerId) => sum + world.stigg.requestCount("entitlements-state", { customerId }), 0);
  const before = count();
  return () => count() - before;
}

/**
 * Puts the same fault on Edge and GraphQL for 15 s, publishes a plan change 5 s in, then lifts it.
 * Returns when the fault started and ended.
 */
async function upstreamFault(world: World, fault: HttpFault): Promise<{ faultStart: number; faultEnd: number }> {
  const faultStart = Date.now();
  world.stigg.setFault("edge", fault);
  world.stigg.setFault("graphql", fault);
  await sleep(5_000);
  world.flip(FLIP_CUSTOMERS[1]!);
  await sleep(10_000);
  world.stigg.setFault("edge", undefined);
  world.stigg.setFault("graphql", undefined);
  return { faultStart, faultEnd: Date.now() };
}

async function killAndRestart(world: World, downMs: number, changeWhileDown: boolean): Promise<{ faultStart: number; faultEnd: number; notes: string[] }> {
  const faultStart = Date.now();
  await world.controlPlane.kill9();
  await sleep(downMs / 2);
  if (changeWhileDown) world.flip(FLIP_CUSTOMERS[1]!);
  await sleep(downMs / 2);
  const reads = edgeReads(world);
  const readyMs = await world.controlPlane.start();
  const faultEnd = Date.now();
  await sleep(5_000);
  return { faultStart, faultEnd, notes: [`restart to ready ${Math.round(readyMs)} ms`, `Edge reads for the ${CACHED_IDS.length} cached customers in the 5 s after the restart: ${reads()}`] };
}

export const SCENARIOS: Scenario[] = [
  {
    name: "baseline",
    fault: "none (steady traffic, one change)",
    run: async (world) => {
      const faultStart = Date.now();
      await sleep(2_000);
      world.flip(FLIP_CUSTOMERS[1]!);
      await sleep(4_000);
      return { faultStart, faultEnd: Date.now(), documented: {}, notes: [] };
    },
  },
  {
    name: "kill-9",
    fault: "control plane kill -9 under load, down 3 s, restarted on the same ports; a change while down",
    run: async (world) => {
      const { faultStart, faultEnd, notes } = await killAndRestart(world, 3_000, true);
      const after = faultEnd + 5_000;
      return {
        faultStart, faultEnd, notes,
        documented: {
          // Events published while it is dead are lost; the filter keeps the last pushed data until the
          // restarted process's snapshot and re-fetch.
          stale: { from: faultStart, to: after },
          // A filter miss with no control plane, or one whose fetch times out right after the restart.
          fallback: between(faultStart, after),
          // Sidecar calls to a dead process fail (the client SDK answers from its own fallbacks).
          error: both((o) => o.api === "sidecar", between(faultStart, faultEnd + 2_000)),
        },
      };
    },
  },
  {
    name: "stigg-hang",
    fault: `Edge + GraphQL answer after 10 s (MISS_TIMEOUT_MS ${MISS_TIMEOUT_MS}) for 15 s; a change during it`,
    run: async (world) => {
      const { faultStart, faultEnd } = await upstreamFault(world, { latencyMs: 10_000 });
      return {
        faultStart, faultEnd, coldMustRecover: true, notes: [],
        // Misses wait at most MISS_TIMEOUT_MS (filter: onMiss.timeoutMs), then fall back; requests held
        // by the emulator when the fault is lifted still time out.
        documented: { fallback: both(cold, between(faultStart, faultEnd + MISS_TIMEOUT_MS + 1_000)) },
      };
    },
  },
  {
    name: "ws-drop",
    fault: "event-stream WebSocket dropped 3 times, 4 s apart; a change right after each drop",
    run: async (world) => {
      const faultStart = Date.now();
      for (let i = 0; i < 3; i++) {
        if (i > 0) await sleep(4_000);
        world.stigg.dropWebSockets();
        world.flip(FLIP_CUSTOMERS[1 + (i % 2)]!);
      }
      const faultEnd = Date.now();
      await sleep(3_000);
      return {
        faultStart, faultEnd, notes: [`WebSocket connects: ${world.stigg.requestCount("connect")}`],
        // A change published while the socket is down is only seen once the reconnect re-fetches the
        // cached entries (control/upstream/stigg/README.md, "Reconnect without flushing").
        documented: { stale: { from: faultStart, to: faultEnd + 10_000 } },
      };
    },
  },
  {
    name: "stigg-429",
    fault: "Edge + GraphQL answer 429 for 15 s (Stigg's one-minute throttle scaled down); a change during it",
    run: async (world) => {
      const { faultStart, faultEnd } = await upstreamFault(world, { kind: "rateLimit" });
      return {
        faultStart, faultEnd, coldMustRecover: true, notes: [],
        // After a 429 the Edge client sends nothing for a cool-down that doubles per consecutive 429,
        // up to 60 s (rateLimitMaxCooldownMs): misses fall back during the fault and that cool-down.
        documented: { fallback: both(cold, between(faultStart, faultEnd + 60_000)) },
      };
    },
  },
  {
    name: "stigg-corrupt",
    fault: "Edge + GraphQL bodies cut in half / wrong types for 15 s",
    run: async (world) => {
      const faultStart = Date.now();
      world.stigg.setFault("edge", { kind: "malformedJson" });
      world.stigg.setFault("graphql", { kind: "wrongTypes" });
      await sleep(7_500);
      world.flip(FLIP_CUSTOMERS[1]!);
      world.stigg.setFault("edge", { kind: "wrongTypes" });
      world.stigg.setFault("graphql", { kind: "malformedJson" });
      await sleep(7_500);
      world.stigg.setFault("edge", undefined);
      world.stigg.setFault("graphql", undefined);
      const faultEnd = Date.now();
      return {
        faultStart, faultEnd, coldMustRecover: true, notes: [],
        // A body that does not parse is never applied: the miss falls back.
        documented: { fallback: both(cold, between(faultStart, faultEnd + MISS_TIMEOUT_MS + 1_000)) },
      };
    },
  },
  {
    name: "ws-silent",
    fault: "event stream silent (socket open, nothing sent) for 20 s while 2 customers change, then resumed",
    run: async (world) => {
      const faultStart = Date.now();
      world.stigg.setFault("ws", { silent: true });
      await sleep(2_000);
      world.flip(FLIP_CUSTOMERS[1]!);
      await sleep(6_000);
      world.flip(FLIP_CUSTOMERS[2]!);
      await sleep(12_000);
      world.stigg.setFault("ws", {});
      const faultEnd = Date.now();
      await sleep(3_000);
      return {
        faultStart, faultEnd, notes: [],
        // Until the silence is detected (ping 10 s after the last pong, 5 s to answer) and the stream
        // is back, changes are not seen; cached values stay hits for 30 s, then are re-fetched on use.
        // After the reconnect every cached entry is re-fetched.
        documented: { stale: { from: faultStart, to: faultEnd + 10_000 } },
      };
    },
  },
  {
    name: "redis-stop-start",
    fault: "Redis (second level) killed for 10 s and restarted; then the control plane kill -9 + restart with Redis up",
    skipReason: () => (RedisChild.installed() ? undefined : "redis-server is not installed (apt-get install redis-server)"),
    setup: async (world) => {
      const redis = new RedisChild(await freePort());
      await redis.start();
      world.attachRedis(redis);
      await world.controlPlane.stop();
      world.controlPlane.setEnv({ REDIS_ENVIRONMENT_PREFIX: "chaos", REDIS_HOST: "127.0.0.1", REDIS_PORT: String(redis.port) });
      const readyMs = await world.controlPlane.start();
      return [`control plane restarted with REDIS_* (ready in ${Math.round(readyMs)} ms)`];
    },
    run: async (world) => {
      const redis = world.redis!;
      const faultStart = Date.now();
      await redis.stop();
      world.flip(FLIP_CUSTOMERS[1]!);
      await sleep(10_000);
      await redis.start();
      const redisBack = Date.now();
      await sleep(3_000);
      const kill = await killAndRestart(world, 2_000, false);
      return {
        faultStart, faultEnd: kill.faultEnd, coldMustRecover: true,
        notes: [`Redis down ${Math.round((redisBack - faultStart) / 1000)} s`, ...kill.notes],
        documented: {
          stale: { from: kill.faultStart, to: kill.faultEnd + 5_000 },
          fallback: between(kill.faultStart, kill.faultEnd + 5_000),
          error: both((o) => o.api === "sidecar", between(kill.faultStart, kill.faultEnd + 2_000)),
        },
      };
    },
  },
];
