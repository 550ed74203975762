// The expected-decision oracle: what Stigg's data said about a customer at each moment, and whether an
// answer observed during a fault was right for the data of its time, right for older data (stale) or
// right for no version at all (wrong). Pure, so a unit test covers it in milliseconds.
import { evaluate, type EntitlementCheck } from "../../control/evaluation/evaluate.ts";
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";

/** "allow", or "deny:<Stigg reason>". Fallback answers are kept apart and never compared. */
export type Verdict = string;

export type Api = "filter" | "sidecar";

export type Outcome =
  | { kind: "decision"; verdict: Verdict; fallback: boolean }
  | { kind: "error"; message: string };

export interface Observation {
  api: Api;
  customerId: string;
  check: EntitlementCheck;
  /** A customer the control plane had not fetched before this request (a deliberate miss). */
  cold: boolean;
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
}

export type Judgement = "ok" | "stale" | "wrong" | "fallback" | "error";

interface Version {
  from: number;
  entry: CustomerEntitlements | undefined;
}

export function verdictOf(entry: CustomerEntitlements | undefined, check: EntitlementCheck, atMs: number): Verdict {
  const decision = evaluate(entry, check, atMs);
  return decision.hasAccess ? "allow" : `deny:${decision.accessDeniedReason ?? "Unknown"}`;
}

export class Oracle {
  private readonly history = new Map<string, Version[]>();

  /** Records what Stigg holds for a customer from `atMs` on (undefined = the customer does not exist). */
  set(customerId: string, entry: CustomerEntitlements | undefined, atMs: number): void {
    let versions = this.history.get(customerId);
    if (versions === undefined) this.history.set(customerId, (versions = []));
    versions.push({ from: atMs, entry });
  }

  current(customerId: string): CustomerEntitlements | undefined {
    return this.history.get(customerId)?.at(-1)?.entry;
  }

  expected(customerId: string, check: EntitlementCheck, atMs: number): Verdict {
    return verdictOf(this.versionAt(customerId, atMs), check, atMs);
  }

  /**
   * An answer is right when it matches a version that was current at some moment between
   * `startedAt − graceMs` and `endedAt` (a change may land while the request is in flight, and the
   * push of a change takes a moment: `graceMs`). Matching only an older version is stale.
   */
  judge(observation: Observation, graceMs: number): Judgement {
    const { outcome } = observation;
    if (outcome.kind === "error") return "error";
    if (outcome.fallback) return "fallback";
    const versions = this.history.get(observation.customerId) ?? [];
    const from = observation.startedAt - graceMs;
    const at = observation.startedAt;
    const candidates: Array<CustomerEntitlements | undefined> = [];
    const older: Array<CustomerEntitlements | undefined> = [];
    versions.forEach((version, i) => {
      const until = versions[i + 1]?.from ?? Number.POSITIVE_INFINITY;
      if (version.from <= observation.endedAt && until > from) candidates.push(version.entry);
      else if (until <= from) older.push(version.entry);
    });
    if (versions.length === 0 || versions[0]!.from > from) candidates.push(undefined);
    if (candidates.some((entry) => verdictOf(entry, observation.check, at) === outcome.verdict)) return "ok";
    if (older.some((entry) => verdictOf(entry, observation.check, at) === outcome.verdict)) return "stale";
    return "wrong";
  }

  /** For a stale answer: how long the newest data it matches had already been replaced (0 otherwise). */
  staleForMs(observation: Observation): number {
    const { outcome } = observation;
    if (outcome.kind !== "decision" || outcome.fallback) return 0;
    const versions = this.history.get(observation.customerId) ?? [];
    for (let i = versions.length - 2; i >= 0; i--) {
      const replacedAt = versions[i + 1]!.from;
      if (replacedAt > observation.startedAt) continue;
      if (verdictOf(versions[i]!.entry, observation.check, observation.startedAt) === outcome.verdict) return observation.startedAt - replacedAt;
    }
    return 0;
  }

  private versionAt(customerId: string, atMs: number): CustomerEntitlements | undefined {
    let found: CustomerEntitlements | undefined;
    for (const version of this.history.get(customerId) ?? []) {
      if (version.from > atMs) break;
      found = version.entry;
    }
    return found;
  }
}
