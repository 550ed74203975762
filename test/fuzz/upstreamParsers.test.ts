// Fuzzes the two parsers that take outside input into the store: the entitlements file (YAML/JSON text,
// mutated structurally and as text) and Stigg's EntitlementsState bodies (Edge and GraphQL). Passing
// means: the file parser never throws and every refusal points at a path or line; the state parser
// throws only its typed errors, with a path; and whatever either accepts is complete and encodable for
// the filters (no partial data, no NaN).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { encodeEntry } from "../../control/codec/entryCodec.ts";
import { DEFAULT_ENTITLEMENTS_FILE } from "../../control/config/settings.ts";
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { parseEntitlementsText } from "../../control/upstream/offlineFile/entitlementsFile.ts";
import { EntitlementsStateGraphqlError, EntitlementsStateShapeError, parseEntitlementsStateDocument } from "../../control/upstream/stigg/entitlementsState.ts";
import { CustomerStore, entitlementsStateObject } from "../stigg/customers.ts";
import { ACME } from "../stigg/fixtures.ts";
import { cases, fuzzSeed, Random } from "./support/random.ts";

/** Everything accepted must be usable as is: finite numbers, and an entry the filters can decode. */
function completeProblem(c: CustomerEntitlements): string | undefined {
  if (typeof c.customerId !== "string") return "customerId is not a string";
  for (const e of c.entitlements) {
    if (typeof e.featureId !== "string" || e.featureId === "") return `entitlement without a feature id`;
    for (const [k, v] of Object.entries(e)) if (typeof v === "number" && !Number.isFinite(v)) return `${e.featureId}.${k} is ${v}`;
  }
  try {
    encodeEntry(c);
  } catch (err) {
    return `accepted but not encodable: ${err instanceof Error ? err.message : String(err)}`;
  }
  return undefined;
}

function textMutation(random: Random, text: string): string {
  const lines = text.split("\n");
  const i = random.int(lines.length);
  switch (random.int(7)) {
    case 0:
      lines.splice(i, 1);
      break;
    case 1:
      lines.splice(i, 0, lines[i] ?? "");
      break;
    case 2:
      lines[i] = " ".repeat(random.int(6)) + (lines[i] ?? "").trimStart();
      break;
    case 3:
      lines[i] = (lines[i] ?? "") + random.pick([" &a", " *a", " !!binary x", ": :", " [", " {", " #", "\t", " ? x", " <<: *a", " |"]);
      break;
    case 4:
      return text.slice(0, random.int(text.length));
    case 5:
      lines[i] = random.string().slice(0, 200);
      break;
    default: {
      const at = random.int(text.length);
      return text.slice(0, at) + String.fromCharCode(random.int(0x3000)) + text.slice(at + 1);
    }
  }
  return lines.join("\n");
}

test("the entitlements file parser answers every fuzzed file with data or located errors, never a throw", (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`FUZZ_SEED=${seed}`);
  console.log(`# entitlements file fuzz: FUZZ_SEED=${seed}`);
  const random = new Random(seed);
  const text = readFileSync(DEFAULT_ENTITLEMENTS_FILE, "utf8");
  const model = parseYaml(text) as unknown;
  const problems: string[] = [];
  let accepted = 0;
  const total = cases(600);
  for (let i = 0; i < total; i++) {
    const roll = random.int(10);
    const input =
      roll < 4 ? stringifyYaml(random.mutate(model)) : roll < 6 ? JSON.stringify(random.mutate(random.mutate(model))) : roll < 9 ? textMutation(random, text) : JSON.stringify(random.json(4));
    let result: ReturnType<typeof parseEntitlementsText>;
    try {
      result = parseEntitlementsText(input, { nowMs: Date.UTC(2026, 10, 25) });
    } catch (err) {
      problems.push(`threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} for ${JSON.stringify(input.slice(0, 300))}`);
      continue;
    }
    if (result.ok) {
      accepted++;
      for (const c of result.customers) {
        const problem = completeProblem(c);
        if (problem) problems.push(`${c.customerId}: ${problem} for ${JSON.stringify(input.slice(0, 300))}`);
      }
      continue;
    }
    if (result.issues.length === 0) problems.push(`refused without an issue for ${JSON.stringify(input.slice(0, 300))}`);
    for (const issue of result.issues) {
      const located = issue.path !== "" || issue.line !== undefined || /file is empty/.test(issue.message);
      if (!located || typeof issue.message !== "string" || issue.message === "") problems.push(`issue without path or line: ${JSON.stringify(issue)}`);
    }
  }
  t.diagnostic(`${total} files: ${accepted} accepted`);
  assert.deepEqual(problems.slice(0, 10), [], `FUZZ_SEED=${seed}: ${problems.length} files broke the contract`);
});

test("Stigg EntitlementsState bodies: typed errors with a path, or complete data", (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`FUZZ_SEED=${seed}`);
  console.log(`# entitlements state fuzz: FUZZ_SEED=${seed}`);
  const random = new Random(seed);
  const store = new CustomerStore();
  store.set("acme", ACME, Date.UTC(2026, 10, 2));
  const bodies = [
    { data: { entitlementsState: entitlementsStateObject(store, "acme") } },
    { data: { entitlementsState: entitlementsStateObject(store, "acme", "site-1") } },
    // Without entitlementsV2 the legacy list is read.
    { data: { entitlementsState: { ...entitlementsStateObject(store, "acme"), entitlementsV2: undefined } } },
    // A GraphQL error envelope.
    { errors: [{ message: "Unauthenticated", extensions: { code: "UNAUTHENTICATED" } }], data: null },
  ].map((b) => JSON.parse(JSON.stringify(b)) as unknown);
  const problems: string[] = [];
  const outcomes = { accepted: 0, shape: 0, graphql: 0 };
  const total = cases(1500);
  for (let i = 0; i < total; i++) {
    const base = random.pick(bodies);
    const roll = random.int(10);
    const body = roll < 7 ? random.mutate(base) : roll < 9 ? random.mutate(random.mutate(random.mutate(base))) : random.json(4);
    try {
      const parsed = parseEntitlementsStateDocument(body, "acme", random.chance(0.3) ? "site-1" : undefined);
      outcomes.accepted++;
      const problem = completeProblem(parsed.entitlements);
      if (problem) problems.push(`${problem} for ${JSON.stringify(body).slice(0, 400)}`);
      if (!Array.isArray(parsed.notes) || parsed.notes.some((n) => typeof n !== "string")) problems.push("notes are not strings");
    } catch (err) {
      if (err instanceof EntitlementsStateShapeError) {
        outcomes.shape++;
        if (!/^\$/.test(err.path) || err.message !== `${err.path}: ${err.problem}`) problems.push(`shape error without a path: ${err.message}`);
      } else if (err instanceof EntitlementsStateGraphqlError) {
        outcomes.graphql++;
      } else {
        problems.push(`untyped ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} for ${JSON.stringify(body).slice(0, 400)}`);
      }
    }
  }
  t.diagnostic(`${total} bodies: ${JSON.stringify(outcomes)}`);
  assert.deepEqual(problems.slice(0, 10), [], `FUZZ_SEED=${seed}: ${problems.length} bodies broke the contract`);
  assert.ok(outcomes.accepted > 0 && outcomes.shape > 0);
});
