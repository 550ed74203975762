import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import type { StoreChange } from "../../control/store/storeTypes.ts";
import { OfflineFileSource } from "../../control/upstream/offlineFile/fileSource.ts";
import { capturedLogger, waitFor } from "./support/capturedLogger.ts";

function catalogue(limits: Record<string, number>): string {
  const lines = ["customers:"];
  for (const [id, limit] of Object.entries(limits)) {
    lines.push(`  ${id}:`, "    entitlements:", `      seats: { featureType: NUMBER, meterType: None, usageLimit: ${limit} }`);
  }
  return lines.join("\n") + "\n";
}

async function fixture(t: { after(fn: () => Promise<void>): void }, text: string) {
  const dir = await mkdtemp(join(tmpdir(), "eg-file-"));
  const path = join(dir, "entitlements.yaml");
  await writeFile(path, text);
  const store = new EntitlementStore();
  const { logger, lines } = capturedLogger();
  const source = new OfflineFileSource({ path, logger, debounceMs: 20 });
  const changes: StoreChange[] = [];
  store.onChange((batch) => changes.push(...batch));
  await source.start(store);
  t.after(async () => {
    await source.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, path, store, source, lines, changes };
}

/** Replaces the file in one step, so a reader can never see it half written. */
async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, text);
  await rename(temp, path);
}

function seatsOf(store: EntitlementStore, id: string): number | undefined {
  return store.get(id)?.value.entitlements[0]?.usageLimit;
}

test("loads the file at start and reports itself ready", async (t) => {
  const { store, source, changes } = await fixture(t, catalogue({ a: 1, b: 2 }));
  assert.equal(store.size, 2);
  assert.equal(changes.length, 2);
  assert.deepEqual(source.status(), { loaded: true });
});

test("turns an edit into deltas for only the changed customers", async (t) => {
  const { path, store, changes } = await fixture(t, catalogue({ a: 1, b: 2, c: 3 }));
  changes.length = 0;
  await writeAtomic(path, catalogue({ a: 1, b: 20, d: 4 }));
  await waitFor("the edit", () => changes.length >= 3);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(
    changes.map((c) => [c.customerId, c.bytes.length > 0]),
    [["b", true], ["d", true], ["c", false]],
  );
  assert.deepEqual(changes.map((c) => c.version), [4, 5, 6]);
  assert.equal(seatsOf(store, "b"), 20);
});

test("keeps the last good data when an edit does not parse, and logs the path and line", async (t) => {
  const { path, store, source, lines, changes } = await fixture(t, catalogue({ a: 1 }));
  changes.length = 0;
  await writeAtomic(path, "customers:\n  a:\n    entitlements:\n      seats: { featureType: NUMBER, meterType: None, usageLimit: many }\n");
  await waitFor("the error log", () => lines.some((l) => l.level === 50));
  const error = lines.find((l) => l.level === 50)!;
  assert.match(error.msg, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:4: customers\\.a\\.entitlements\\.seats\\.usageLimit: must be a number >= 0, got "many"`));
  assert.equal(lines.filter((l) => l.level === 50).length, 1, "one error per broken edit");
  assert.equal(seatsOf(store, "a"), 1);
  assert.deepEqual(source.status(), { loaded: true });
  assert.equal(changes.length, 0);

  await writeFile(path, catalogue({ a: 7 }));
  await waitFor("the fixed file", () => seatsOf(store, "a") === 7);
});

test("sees a save that writes a temporary file and renames it over the original", async (t) => {
  const { dir, path, store } = await fixture(t, catalogue({ a: 1 }));
  const temp = join(dir, ".entitlements.yaml.swp");
  await writeFile(temp, catalogue({ a: 2, z: 9 }));
  await rename(temp, path);
  await waitFor("the renamed file", () => seatsOf(store, "a") === 2 && store.size === 2);
});

test("sees a Kubernetes ConfigMap update, which only swaps a directory symlink", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "eg-configmap-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, "..2026_v1"));
  await writeFile(join(dir, "..2026_v1", "entitlements.yaml"), catalogue({ a: 1 }));
  await symlink("..2026_v1", join(dir, "..data"));
  await symlink("..data/entitlements.yaml", join(dir, "entitlements.yaml"));
  const store = new EntitlementStore();
  const { logger } = capturedLogger();
  const source = new OfflineFileSource({ path: join(dir, "entitlements.yaml"), logger, debounceMs: 20 });
  await source.start(store);
  t.after(() => source.stop());
  assert.equal(seatsOf(store, "a"), 1);

  await mkdir(join(dir, "..2026_v2"));
  await writeFile(join(dir, "..2026_v2", "entitlements.yaml"), catalogue({ a: 2 }));
  await symlink("..2026_v2", join(dir, "..data_tmp"));
  await rename(join(dir, "..data_tmp"), join(dir, "..data"));
  await waitFor("the swapped ConfigMap", () => seatsOf(store, "a") === 2);
});

test("keeps the last data when the file is deleted and reloads it when it returns", async (t) => {
  const { path, store, lines } = await fixture(t, catalogue({ a: 1 }));
  await unlink(path);
  await waitFor("the warning", () => lines.some((l) => l.level === 40 && l.msg.includes("gone")));
  assert.equal(seatsOf(store, "a"), 1);
  await writeFile(path, catalogue({ a: 3 }));
  await waitFor("the recreated file", () => seatsOf(store, "a") === 3);
});

test("is not ready when the file is invalid at start, and becomes ready once it is fixed", async (t) => {
  const { path, store, source } = await fixture(t, "customers:\n  a: { entitlements: { x: { featureType: NOPE } } }\n");
  const status = source.status();
  assert.equal(status.loaded, false);
  assert.match(status.reason ?? "", /customers\.a\.entitlements\.x\.featureType/);
  assert.equal(store.size, 0);
  await writeFile(path, catalogue({ a: 1 }));
  await waitFor("the fixed file", () => source.status().loaded);
  assert.equal(store.size, 1);
});

test("leaves reported usage alone when an unrelated customer is edited", async (t) => {
  const text = (limitB: number): string =>
    `customers:\n  a: { entitlements: { calls: { featureType: NUMBER, meterType: Incremental, usageLimit: 10 } } }\n  b: { entitlements: { calls: { featureType: NUMBER, meterType: Incremental, usageLimit: ${limitB} } } }\n`;
  const { path, store } = await fixture(t, text(10));
  store.addUsage("a", undefined, "calls", 4);
  await writeFile(path, text(11));
  await waitFor("the edit", () => store.get("b")!.value.entitlements[0]!.usageLimit === 11);
  assert.equal(store.get("a")!.value.entitlements[0]!.currentUsage, 4);
});
