// A root context whose proxy_on_done answered false stays alive (ticks, call and queue callbacks) until
// it calls proxy_done; Envoy then deletes it. Must run in one of that root's own callbacks, where the
// effective context is the root.
import { proxy_done } from "./imports";
import { Status } from "./constants";

/** False when the host was not waiting for this root (NOT_FOUND). */
export function signalDone(): bool {
  return proxy_done() == Status.OK;
}
