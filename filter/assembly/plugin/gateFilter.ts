// The HTTP filter (root_id `entitlement_gate`, one VM per Envoy worker). Per request it reads the headers
// once, strips client-supplied x-entitlement-* headers, finds the rule for the path, reads the customer's
// entry from shared data and either continues (adding x-entitlement-decision) or answers locally.
// Hit path: 4 host calls plus one metric increment; no log calls at the default level.
import { RootContext, StreamContext } from "../binding/contexts";
import { Action, BufferType, MapType } from "../binding/constants";
import { getBufferBytes } from "../binding/buffers";
import { getHeaderMapView, addHeaderRaw, removeHeaderRaw } from "../binding/headers";
import { HeaderPair } from "../binding/headerMapCodec";
import { getSharedDataRaw } from "../binding/sharedData";
import { sendLocalReply } from "../binding/localReply";
import { Metric, counter } from "../binding/metrics";
import { logDebug, logError, logInfo, refreshLogLevel } from "../binding/log";
import { nowMillis } from "../binding/time";
import { GateConfig, parseGateConfig } from "../logic/gateConfig";
import { GateRule, matchRule } from "../logic/rules";
import { startsWithBytes } from "../logic/byteReader";
import { FeatureKind, lookupFeature } from "../logic/entryDecoder";
import { Decision, evaluate } from "../logic/evaluate";
import { Reason, reasonName } from "../logic/reasons";
import { denyBody } from "../logic/jsonWriter";
import { CUSTOMER_KEY_PREFIX, GENERATION_BYTES, SYNC_GEN_KEY, readU32 } from "../logic/sharedKeys";

export const GATE_ROOT_ID = "entitlement_gate";

const PATH_HEADER = String.UTF8.encode(":path");
const STRIPPED_PREFIX = String.UTF8.encode("x-entitlement-");
const DECISION_HEADER = String.UTF8.encode("x-entitlement-decision");
const ALLOW_VALUE = String.UTF8.encode("allow");
const CUSTOMER_PREFIX = String.UTF8.encode(CUSTOMER_KEY_PREFIX);
const GEN_KEY = String.UTF8.encode(SYNC_GEN_KEY);
const DENY_DETAILS = "entitlement_denied";

class GateMetrics {
  allowed: Metric = counter("entitlement_gate_allowed");
  denied: Metric = counter("entitlement_gate_denied");
  unmatched: Metric = counter("entitlement_gate_unmatched");
  corruptEntry: Metric = counter("entitlement_gate_corrupt_entry");
}

export class GateRoot extends RootContext {
  config: GateConfig | null = null;
  metrics: GateMetrics | null = null;

  onConfigure(configurationSize: u32): bool {
    refreshLogLevel();
    const bytes = getBufferBytes(BufferType.PLUGIN_CONFIGURATION, 0, configurationSize);
    const parsed = parseGateConfig(bytes === null ? new ArrayBuffer(0) : bytes);
    const config = parsed.config;
    if (config === null) {
      logError("entitlement_gate: rejected configuration: " + parsed.error);
      return false;
    }
    this.config = config;
    if (this.metrics === null) this.metrics = new GateMetrics();
    logInfo("entitlement_gate: configured with " + config.rules.length.toString() + " rule(s), customer header " + config.customerHeader);
    return true;
  }

  onTick(): void {
    refreshLogLevel();
  }

  createStreamContext(id: u32): StreamContext {
    return new GateStream(id, this);
  }
}

function keyEquals(ptr: usize, length: i32, expected: ArrayBuffer): bool {
  return length == expected.byteLength && memory.compare(ptr, changetype<usize>(expected), <usize>length) == 0;
}

/** `eg1/c/` followed by the raw customer id bytes. */
function customerKeyBytes(idPtr: usize, idLength: i32): ArrayBuffer {
  const prefixLength = CUSTOMER_PREFIX.byteLength;
  const key = new ArrayBuffer(prefixLength + idLength);
  memory.copy(changetype<usize>(key), changetype<usize>(CUSTOMER_PREFIX), <usize>prefixLength);
  memory.copy(changetype<usize>(key) + <usize>prefixLength, idPtr, <usize>idLength);
  return key;
}

class GateStream extends StreamContext {
  constructor(id: u32, public gate: GateRoot) {
    super(id, gate);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): i32 {
    const root = this.gate;
    const config = root.config;
    const metrics = root.metrics;
    // Unconfigured (rejected configuration never gets here in Envoy): do not interfere.
    if (config === null || metrics === null) return Action.CONTINUE;

    const headers = getHeaderMapView(MapType.HTTP_REQUEST_HEADERS);
    if (headers === null || !headers.valid) {
      logDebug("entitlement_gate: request headers unreadable; passing the request on");
      return Action.CONTINUE;
    }
    let pathIndex = -1;
    let customerIndex = -1;
    const customerHeader = config.customerHeaderBytes;
    for (let i = 0; i < headers.count; i++) {
      const keyPtr = headers.keyPtr(i);
      const keyLength = headers.keyLength(i);
      if (pathIndex < 0 && keyEquals(keyPtr, keyLength, PATH_HEADER)) pathIndex = i;
      else if (customerIndex < 0 && keyEquals(keyPtr, keyLength, customerHeader)) customerIndex = i;
      if (startsWithBytes(keyPtr, keyLength, changetype<usize>(STRIPPED_PREFIX), STRIPPED_PREFIX.byteLength)) {
        // Envoy removes every value of the name at once; a repeated name costs one redundant call.
        removeHeaderRaw(MapType.HTTP_REQUEST_HEADERS, keyPtr, keyLength);
      }
    }

    const ruleIndex = pathIndex < 0 ? -1 : matchRule(config.rules, headers.valuePtr(pathIndex), headers.valueLength(pathIndex));
    if (ruleIndex < 0) {
      metrics.unmatched.increment();
      return Action.CONTINUE;
    }
    const rule = unchecked(config.rules[ruleIndex]);

    if (customerIndex < 0 || headers.valueLength(customerIndex) == 0) {
      return this.deny(rule, Decision.deny(Reason.MissingCustomerId), metrics);
    }
    const decision = this.decide(rule, headers.valuePtr(customerIndex), headers.valueLength(customerIndex), metrics);
    if (!decision.allowed) return this.deny(rule, decision, metrics);
    addHeaderRaw(
      MapType.HTTP_REQUEST_HEADERS, changetype<usize>(DECISION_HEADER), DECISION_HEADER.byteLength,
      changetype<usize>(ALLOW_VALUE), ALLOW_VALUE.byteLength,
    );
    metrics.allowed.increment();
    return Action.CONTINUE;
  }

  private decide(rule: GateRule, idPtr: usize, idLength: i32, metrics: GateMetrics): Decision {
    const generation = getSharedDataRaw(changetype<usize>(GEN_KEY), GEN_KEY.byteLength);
    const currentGen = readU32(generation.value);
    const key = customerKeyBytes(idPtr, idLength);
    const stored = getSharedDataRaw(changetype<usize>(key), key.byteLength);
    const value = stored.value;
    if (value === null || value.byteLength == 0) return Decision.deny(Reason.CustomerNotFound);
    if (value.byteLength < GENERATION_BYTES) {
      metrics.corruptEntry.increment();
      return Decision.deny(Reason.CustomerNotFound);
    }
    // Written before the last completed snapshot and not in it: the customer no longer exists.
    if (readU32(value) < currentGen) return Decision.deny(Reason.CustomerNotFound);
    const lookup = lookupFeature(value, GENERATION_BYTES, value.byteLength, rule.featureBytes);
    if (lookup.corrupt) {
      metrics.corruptEntry.increment();
      logDebug("entitlement_gate: corrupt entry for a customer; treated as not found");
      return Decision.deny(Reason.CustomerNotFound);
    }
    const feature = lookup.feature;
    // The clock costs a host call: only metered features with a usage period need it.
    const nowMs: i64 = feature !== null && feature.kind == FeatureKind.METERED && feature.hasPeriod ? nowMillis() : 0;
    return evaluate(true, lookup.customerReason, feature, rule.requestedUsage, null, nowMs);
  }

  private deny(rule: GateRule, decision: Decision, metrics: GateMetrics): i32 {
    const status: u32 = decision.reason == Reason.RequestedUsageExceedingLimit ? 429 : 403;
    const headers: HeaderPair[] = [new HeaderPair("content-type", "application/json")];
    sendLocalReply(status, DENY_DETAILS, denyBody(rule.feature, reasonName(decision.reason)), headers);
    metrics.denied.increment();
    return Action.PAUSE;
  }
}

export function createGateRoot(id: u32, rootId: string): RootContext {
  return new GateRoot(id, rootId);
}
