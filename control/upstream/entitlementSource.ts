// The seam between upstreams (the offline file today; Stigg Edge/GraphQL/WebSocket later) and the
// store. A source pushes its content into the sink and reports its health for /readyz.
import type { EntitlementSink } from "../store/storeTypes.ts";

export interface SourceStatus {
  /** True once the source has delivered a complete view at least once. */
  loaded: boolean;
  /** Why it is not loaded (or the last problem), for /readyz and logs. */
  reason?: string;
}

export interface EntitlementSource {
  /** A short description for logs ("file /etc/eg/entitlements.yaml"). */
  readonly description: string;
  /**
   * Starts feeding `sink`. Resolves after the first load attempt; a failed first load does not
   * reject (the source keeps trying and says why in `status()`), only an unusable setup does.
   */
  start(sink: EntitlementSink): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
}
