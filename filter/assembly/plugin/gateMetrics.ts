// The HTTP filter's counters, defined once per VM (on the first configure). Every decision path counts.
// The two counted on every allow (allowed, usageEnqueued) are counted in wasm memory and flushed on the
// root's tick: two host calls fewer per request, for a lag of one tick, far below a stats flush or scrape.
import { Metric, counter } from "../binding/metrics";
import { RESPONSE_SLOTS, reasonSlot } from "../logic/denyResponses";
import { allReasons, reasonName } from "../logic/reasons";

export class GateMetrics {
  /** Counted with count(): flushPending() adds it. */
  allowed: Metric = counter("entitlement_gate_allowed");
  denied: Metric = counter("entitlement_gate_denied");
  unmatched: Metric = counter("entitlement_gate_unmatched");
  corruptEntry: Metric = counter("entitlement_gate_corrupt_entry");
  misses: Metric = counter("entitlement_gate_misses");
  staleMisses: Metric = counter("entitlement_gate_stale_misses");
  fetches: Metric = counter("entitlement_gate_fetches");
  fetchFailures: Metric = counter("entitlement_gate_fetch_failures");
  fallbacks: Metric = counter("entitlement_gate_fallbacks");
  shadowDisagreements: Metric = counter("entitlement_gate_shadow_disagreements");
  missingCustomerAllowed: Metric = counter("entitlement_gate_missing_customer_allowed");
  /** Counted with count(): flushPending() adds it. */
  usageEnqueued: Metric = counter("entitlement_gate_usage_enqueued");
  usageDropped: Metric = counter("entitlement_gate_usage_dropped");
  /** One counter per reason name, indexed by reasonSlot(). */
  deniedByReason: Metric[] = defineReasonCounters();

  /** Adds the counts gathered since the last flush (one host call per counter that has any). */
  flushPending(): void {
    this.allowed.flush();
    this.usageEnqueued.flush();
  }

  deny(reason: i32): void {
    this.denied.increment();
    unchecked(this.deniedByReason[reasonSlot(reason)]).increment();
  }
}

function defineReasonCounters(): Metric[] {
  const out = new Array<Metric>(RESPONSE_SLOTS);
  const reasons = allReasons();
  for (let i = 0; i < reasons.length; i++) {
    const reason = unchecked(reasons[i]);
    unchecked(out[reasonSlot(reason)] = counter("entitlement_gate_denied_" + reasonName(reason)));
  }
  // Slot 0 (no reason) is never used for a deny; point it at Unknown's counter rather than leave a hole.
  unchecked(out[0] = unchecked(out[reasonSlot(1)]));
  return out;
}
