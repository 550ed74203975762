// The compose scenario against the official Envoy image, where a Docker engine exists: the built filter
// and envoy/standalone/envoy.yaml in envoyproxy/envoy, the control plane from the Dockerfile, an echo
// app. Where `docker info` fails (our build machines) every test skips and says why.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../cli/support/runCli.ts";

const COMPOSE_FILE = join(ROOT, "envoy/compose/compose.yaml");
const PROJECT = `eg-real-envoy-${process.pid}`;

function dockerUnavailableReason(): string | undefined {
  if (process.env.EG_SKIP_DOCKER === "1") return "EG_SKIP_DOCKER=1";
  const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 10_000 });
  if (info.error) return `no docker CLI (${(info.error as NodeJS.ErrnoException).code ?? info.error.message})`;
  if (info.status !== 0) return `no Docker engine: docker info exited ${info.status}: ${(info.stderr || "").trim().split("\n")[0]}`;
  const compose = spawnSync("docker", ["compose", "version"], { encoding: "utf8", timeout: 10_000 });
  if (compose.status !== 0) return "docker compose (v2) is not installed";
  if (!existsSync(join(ROOT, "build/entitlement_gate.wasm"))) return "build/entitlement_gate.wasm is missing (npm run build:filter)";
  return undefined;
}

const skipReason = dockerUnavailableReason();
if (skipReason) console.log(`# realEnvoy: skipping the official Envoy image suite: ${skipReason}`);

function compose(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("docker", ["compose", "-p", PROJECT, "-f", COMPOSE_FILE, ...args], { encoding: "utf8", timeout: 600_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function get(path: string, customer: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:10000${path}`, { headers: { "x-customer-id": customer } });
  return { status: res.status, body: await res.text() };
}

describe("official Envoy image (docker compose)", { skip: skipReason ?? false }, () => {
  before(() => {
    const up = compose("up", "--build", "--detach", "--wait");
    assert.equal(up.status, 0, `docker compose up failed:\n${up.stderr}`);
  });
  after(() => {
    compose("down", "--volumes", "--remove-orphans");
  });

  it("lets an entitled customer through with the decision header", async () => {
    let result = await get("/reports/q3", "customer-free");
    // The first snapshot may still be on its way when Envoy starts taking traffic.
    for (let i = 0; i < 50 && result.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      result = await get("/reports/q3", "customer-free");
    }
    assert.equal(result.status, 200, result.body);
    assert.match(result.body, /x-entitlement-decision/i);
  });

  it("denies an archived customer with 403 and Stigg's reason", async () => {
    const result = await get("/reports/q3", "customer-archived");
    assert.equal(result.status, 403);
    assert.equal((JSON.parse(result.body) as { reason: string }).reason, "CustomerIsArchived");
  });

  it("answers 429 for a customer at its metered limit", async () => {
    const result = await get("/api/search", "customer-at-limit");
    assert.equal(result.status, 429);
  });
});
