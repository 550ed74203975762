// Splits where a synchronous workload spends CPU, from a V8 sampling profile taken in-process: time
// inside the wasm module (the plugin's own code) versus everything else (the host, the driver, GC).
import { Session } from "node:inspector/promises";

export interface CpuSplit {
  /** Fraction of sampled time whose innermost frame is a wasm function. */
  wasmShare: number;
  /** Fraction whose innermost frame is a host function (test/host/hostFunctions.ts) or below it. */
  hostFunctionShare: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export async function profileSplit(work: () => void): Promise<CpuSplit> {
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 20 });
    await session.post("Profiler.start");
    work();
    const { profile } = (await session.post("Profiler.stop")) as { profile: Profile };
    return split(profile);
  } finally {
    session.disconnect();
  }
}

function split(profile: Profile): CpuSplit {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const underHostFunction = new Map<number, boolean>();
  const isUnderHost = (id: number): boolean => {
    const known = underHostFunction.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id)!;
    const up = parent.get(id);
    const value = node.callFrame.url.endsWith("test/host/hostFunctions.ts") || (up !== undefined && isUnderHost(up));
    underHostFunction.set(id, value);
    return value;
  };
  let total = 0;
  let wasm = 0;
  let host = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    if (name === "(idle)" || name === "(program)" || name === "(root)") return;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    if (node.callFrame.url.startsWith("wasm://") || name.startsWith("wasm-function") || name.startsWith("$")) wasm += dt;
    else if (isUnderHost(id)) host += dt;
  });
  return { wasmShare: total === 0 ? 0 : wasm / total, hostFunctionShare: total === 0 ? 0 : host / total };
}
