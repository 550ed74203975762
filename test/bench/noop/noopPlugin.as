// The baseline for the filter benchmark: the same ABI binding as the real filter (exports, context
// registry, allocator, abort hook), a root that accepts any configuration and a stream that continues
// without a host call. The time the real filter takes beyond this is the cost of its own work.
import { RootContext, StreamContext, registerRootContext } from "../../../filter/assembly/binding/contexts";
import "../../../filter/assembly/binding/abort";

export * from "../../../filter/assembly/binding/exports";

const NOOP_ROOT_ID = "bench_noop";

class NoopRoot extends RootContext {
  createStreamContext(id: u32): StreamContext {
    return new StreamContext(id, this);
  }
}

registerRootContext(NOOP_ROOT_ID, (id: u32, rootId: string): RootContext => new NoopRoot(id, rootId));
