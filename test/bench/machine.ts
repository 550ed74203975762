// The machine a run was measured on, read at run time so the figures always carry their context.
import { execFileSync } from "node:child_process";
import os from "node:os";

export interface MachineInfo {
  cpuModel: string;
  logicalCpus: number;
  nproc: string;
  memoryTotal: string;
  node: string;
  platform: string;
  loadAverage: string;
  date: string;
}

function nproc(): string {
  try {
    return execFileSync("nproc", { encoding: "utf8" }).trim();
  } catch {
    return String(os.availableParallelism());
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  const models = [...new Set(cpus.map((c) => c.model.trim()))];
  return {
    cpuModel: models.join(", ") || "unknown",
    logicalCpus: cpus.length,
    nproc: nproc(),
    memoryTotal: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => l.toFixed(2)).join(" "),
    date: new Date().toISOString(),
  };
}

export function machineLines(m: MachineInfo): string[] {
  return [
    `CPU: ${m.cpuModel} (${m.logicalCpus} logical CPUs in os.cpus(), nproc ${m.nproc})`,
    `Memory: ${m.memoryTotal}`,
    `Node: ${m.node} on ${m.platform}`,
    `Load average at start (1/5/15 min): ${m.loadAverage}`,
    `Run at: ${m.date}`,
  ];
}
