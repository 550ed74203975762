// Module entry: the exports Envoy calls, and the plugins this .wasm serves (chosen by root_id).
import { registerRootContext } from "./binding/contexts";
import { GATE_ROOT_ID, createGateRoot } from "./plugin/gateFilter";
import { SYNC_ROOT_ID, createSyncRoot } from "./plugin/syncRole";
import "./binding/abort";

export * from "./binding/exports";

registerRootContext(GATE_ROOT_ID, createGateRoot);
registerRootContext(SYNC_ROOT_ID, createSyncRoot);
