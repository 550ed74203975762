// A probe for the cost of host calls in the proxy-wasm test host: on request headers it repeats one of
// the host calls the filter makes `count` times (configuration: "<op> <count>"), so the time per request
// minus the "none" probe's, divided by count, is what the host charges per call. "mix 1" makes the
// metered route's seven calls once, as the filter does in the bench (the entry read is the requesting
// customer's, as the filter's is), and nothing else.
import { RootContext, StreamContext, registerRootContext } from "../../../filter/assembly/binding/contexts";
import { BufferType, MapType } from "../../../filter/assembly/binding/constants";
import { getBufferBytes } from "../../../filter/assembly/binding/buffers";
import { readHeaderMapInto, addHeaderRaw } from "../../../filter/assembly/binding/headers";
import { HeaderMapView } from "../../../filter/assembly/binding/headerMapCodec";
import { HostScratch } from "../../../filter/assembly/binding/memory";
import { readSharedDataInto } from "../../../filter/assembly/binding/sharedData";
import { Metric, counter } from "../../../filter/assembly/binding/metrics";
import { nowMillis } from "../../../filter/assembly/binding/time";
import { proxy_resolve_shared_queue } from "../../../filter/assembly/binding/imports";
import { OUT_WORD } from "../../../filter/assembly/binding/memory";
import "../../../filter/assembly/binding/abort";

export * from "../../../filter/assembly/binding/exports";

const OP_NONE = 0;
const OP_METRIC = 1;
const OP_TIME = 2;
const OP_SHARED = 3;
const OP_PAIRS = 4;
const OP_ADD = 5;
const OP_RESOLVE = 6;
/** The metered route's calls once each (as in the bench: no clock read), with none of the filter's work. */
const OP_MIX = 7;

const scratch = new HostScratch(1024);
const view = new HeaderMapView(new ArrayBuffer(0));
const ENTRY_KEY = String.UTF8.encode("eg1/c/customer-000007");
const CUSTOMER_HEADER = String.UTF8.encode("x-customer-id");
const CUSTOMER_PREFIX = String.UTF8.encode("eg1/c/");
const customerKey = new ArrayBuffer(256);
const GEN_KEY = String.UTF8.encode("eg1/sync/gen");
const HEADER_NAME = String.UTF8.encode("x-entitlement-decision");
const HEADER_VALUE = String.UTF8.encode("allow");
const VM_ID = String.UTF8.encode("probe");
const QUEUE_NAME = String.UTF8.encode("eg1/usage");

let op = OP_NONE;
let count = 0;
let probeMetric: Metric | null = null;
let sink: i64 = 0;

class ProbeRoot extends RootContext {
  onConfigure(size: u32): bool {
    const bytes = getBufferBytes(BufferType.PLUGIN_CONFIGURATION, 0, size);
    const text = bytes === null ? "" : String.UTF8.decode(bytes);
    const parts = text.split(" ");
    const name = parts[0];
    op = name == "metric" ? OP_METRIC : name == "time" ? OP_TIME : name == "shared" ? OP_SHARED
      : name == "pairs" ? OP_PAIRS : name == "add" ? OP_ADD : name == "resolve" ? OP_RESOLVE : name == "mix" ? OP_MIX : OP_NONE;
    count = parts.length > 1 ? I32.parseInt(parts[1]) : 0;
    if (probeMetric === null) probeMetric = counter("probe_calls");
    return true;
  }
  createStreamContext(id: u32): StreamContext { return new ProbeStream(id, this); }
}

class ProbeStream extends StreamContext {
  onRequestHeaders(numHeaders: u32, endOfStream: bool): i32 {
    const metric = probeMetric!;
    for (let i = 0; i < count; i++) {
      if (op == OP_METRIC) metric.increment();
      else if (op == OP_TIME) sink += nowMillis();
      else if (op == OP_SHARED) { readSharedDataInto(changetype<usize>(ENTRY_KEY), ENTRY_KEY.byteLength, scratch); sink += scratch.length; }
      else if (op == OP_PAIRS) { readHeaderMapInto(MapType.HTTP_REQUEST_HEADERS, scratch, view); sink += view.count; }
      else if (op == OP_ADD) addHeaderRaw(MapType.HTTP_REQUEST_HEADERS, changetype<usize>(HEADER_NAME), HEADER_NAME.byteLength,
        changetype<usize>(HEADER_VALUE), HEADER_VALUE.byteLength);
      else if (op == OP_RESOLVE) sink += proxy_resolve_shared_queue(changetype<usize>(VM_ID), <usize>VM_ID.byteLength,
        changetype<usize>(QUEUE_NAME), <usize>QUEUE_NAME.byteLength, OUT_WORD);
      else if (op == OP_MIX) {
        readHeaderMapInto(MapType.HTTP_REQUEST_HEADERS, scratch, view);
        const keyLength = customerKeyFrom(view);
        readSharedDataInto(changetype<usize>(GEN_KEY), GEN_KEY.byteLength, scratch);
        readSharedDataInto(changetype<usize>(customerKey), keyLength, scratch);
        sink += scratch.length;
        addHeaderRaw(MapType.HTTP_REQUEST_HEADERS, changetype<usize>(HEADER_NAME), HEADER_NAME.byteLength,
          changetype<usize>(HEADER_VALUE), HEADER_VALUE.byteLength);
        sink += proxy_resolve_shared_queue(changetype<usize>(VM_ID), <usize>VM_ID.byteLength,
          changetype<usize>(QUEUE_NAME), <usize>QUEUE_NAME.byteLength, OUT_WORD);
        metric.increment();
        metric.increment();
      }
    }
    return 0;
  }
}

/** `eg1/c/<x-customer-id>` in customerKey (the header scratch is overwritten by the next read); its length. */
function customerKeyFrom(headers: HeaderMapView): i32 {
  const prefixLength = CUSTOMER_PREFIX.byteLength;
  memory.copy(changetype<usize>(customerKey), changetype<usize>(CUSTOMER_PREFIX), <usize>prefixLength);
  for (let i = 0; i < headers.count; i++) {
    const length = headers.keyLength(i);
    if (length != CUSTOMER_HEADER.byteLength || memory.compare(headers.keyPtr(i), changetype<usize>(CUSTOMER_HEADER), <usize>length) != 0) continue;
    const valueLength = min<i32>(headers.valueLength(i), customerKey.byteLength - prefixLength);
    memory.copy(changetype<usize>(customerKey) + <usize>prefixLength, headers.valuePtr(i), <usize>valueLength);
    return prefixLength + valueLength;
  }
  return prefixLength;
}

registerRootContext("probe", (id: u32, rootId: string): RootContext => new ProbeRoot(id, rootId));
