// The offline upstream: an entitlements file, watched so edits reach the filters live. A file that
// fails to parse or disappears never empties the store: the last good content stays in force.
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { Logger } from "../../log.ts";
import { entityKey, type CustomerEntitlements } from "../../model/entitlements.ts";
import { fingerprint } from "../../store/fingerprint.ts";
import type { EntitlementSink } from "../../store/storeTypes.ts";
import type { EntitlementSource, SourceStatus } from "../entitlementSource.ts";
import { formatIssue, parseEntitlementsText } from "./entitlementsFile.ts";

export interface OfflineFileSourceOptions {
  path: string;
  logger: Logger;
  /** Editors write in bursts (truncate, write, rename); wait this long after the last event. */
  debounceMs?: number;
  now?: () => number;
}

export type ReloadOutcome =
  | { kind: "loaded"; entries: number; upserted: number; removed: number }
  | { kind: "unchanged" }
  | { kind: "invalid"; message: string }
  | { kind: "missing" };

export class OfflineFileSource implements EntitlementSource {
  readonly path: string;
  readonly description: string;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private readonly now: () => number;
  private sink: EntitlementSink | undefined;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<ReloadOutcome> | undefined;
  private rerun = false;
  private lastText: string | undefined;
  /** What the file said last time, by entity key, to turn an edit into only the changed entries. */
  private lastContent = new Map<string, { customer: CustomerEntitlements; print: string }>();
  private state: SourceStatus = { loaded: false, reason: "the entitlements file has not been read yet" };
  private reportedMissing = false;

  constructor(options: OfflineFileSourceOptions) {
    this.path = resolve(options.path);
    this.description = `file ${this.path}`;
    this.logger = options.logger.child({ component: "offline-file" });
    this.debounceMs = options.debounceMs ?? 50;
    this.now = options.now ?? Date.now;
  }

  status(): SourceStatus {
    return { ...this.state };
  }

  async start(sink: EntitlementSink): Promise<void> {
    this.sink = sink;
    // Watch the directory, not the file: editors that save by writing a temporary file and renaming
    // it over the original replace the inode a file watch would be attached to. Any event in the
    // directory triggers a (debounced) read, because a Kubernetes ConfigMap update only swaps the
    // `..data` symlink and never names the file; an unchanged text is skipped before parsing.
    this.watcher = watch(dirname(this.path), { persistent: false }, () => this.scheduleReload());
    this.watcher.on("error", (err) => this.logger.error({ err, path: this.path }, "watching the entitlements file failed"));
    await this.reload();
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
    clearTimeout(this.debounce);
    this.debounce = undefined;
    this.sink = undefined;
    await this.running;
  }

  private scheduleReload(): void {
    if (!this.sink) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.reload();
    }, this.debounceMs);
  }

  /** Reads the file now. Concurrent calls are serialised; the last one always sees the newest file. */
  reload(): Promise<ReloadOutcome> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    const run = async (): Promise<ReloadOutcome> => {
      let outcome: ReloadOutcome;
      do {
        this.rerun = false;
        outcome = await this.readOnce();
      } while (this.rerun && this.sink);
      return outcome;
    };
    this.running = run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async readOnce(): Promise<ReloadOutcome> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        if (!this.reportedMissing) {
          this.reportedMissing = true;
          this.logger.warn({ path: this.path }, "entitlements file is gone; keeping the last loaded entitlements");
        }
        if (!this.state.loaded) this.state = { loaded: false, reason: `${this.path} does not exist` };
        return { kind: "missing" };
      }
      const message = `${this.path}: cannot be read (${code ?? String(err)})`;
      this.logger.error({ path: this.path }, message);
      if (!this.state.loaded) this.state = { loaded: false, reason: message };
      return { kind: "invalid", message };
    }
    this.reportedMissing = false;
    if (text === this.lastText) return { kind: "unchanged" };

    const parsed = parseEntitlementsText(text, { nowMs: this.now() });
    if (!parsed.ok) {
      const message = parsed.issues.map((issue) => formatIssue(issue, this.path)).join("; ");
      this.logger.error(
        { path: this.path, issues: parsed.issues },
        `entitlements file is invalid, keeping the last loaded entitlements: ${message}`,
      );
      this.lastText = text;
      if (!this.state.loaded) this.state = { loaded: false, reason: message };
      return { kind: "invalid", message };
    }
    this.lastText = text;
    if (!this.sink) return { kind: "unchanged" };
    const outcome = this.apply(this.sink, parsed.customers);
    this.state = { loaded: true };
    this.logger.info({ path: this.path, ...outcome }, "entitlements file loaded");
    return outcome;
  }

  private apply(sink: EntitlementSink, customers: CustomerEntitlements[]): ReloadOutcome & { kind: "loaded" } {
    const next = new Map<string, { customer: CustomerEntitlements; print: string }>();
    for (const customer of customers) {
      next.set(entityKey(customer.customerId, customer.resourceId), { customer, print: fingerprint(customer) });
    }
    const first = !this.state.loaded;
    const previous = this.lastContent;
    this.lastContent = next;
    if (first) {
      const result = sink.replaceAll(customers);
      return { kind: "loaded", entries: customers.length, upserted: result.upserted, removed: result.removed };
    }
    // Later loads touch only what the file changed, so usage reported to the store for customers
    // whose lines did not change is not reset by an unrelated edit.
    let upserted = 0;
    let removed = 0;
    for (const [key, { customer, print }] of next) {
      if (previous.get(key)?.print === print) continue;
      if (sink.upsert(customer)) upserted++;
    }
    for (const [key, { customer }] of previous) {
      if (next.has(key)) continue;
      if (sink.remove(customer.customerId, customer.resourceId)) removed++;
    }
    return { kind: "loaded", entries: customers.length, upserted, removed };
  }
}
