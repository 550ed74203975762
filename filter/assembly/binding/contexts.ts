// Context registry. Envoy creates one root context per plugin (parent 0) and one stream context per
// HTTP request (parent = its plugin's root). One .wasm can serve several plugins: the root context's
// class is chosen by the plugin's root_id, read from the `plugin_root_id` property.
import { Action } from "./constants";
import { getPropertyString } from "./properties";
import { logError, refreshLogLevel } from "./log";
import { IdTable } from "./idTable";

export class RootContext {
  constructor(public id: u32, public rootId: string) {}

  onVmStart(vmConfigurationSize: u32): bool { return true; }
  onConfigure(configurationSize: u32): bool { return true; }
  onTick(): void {}
  onHttpCallResponse(token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {}
  onGrpcReceiveInitialMetadata(token: u32, numElements: u32): void {}
  onGrpcReceive(token: u32, messageSize: u32): void {}
  onGrpcReceiveTrailingMetadata(token: u32, numElements: u32): void {}
  onGrpcClose(token: u32, statusCode: u32): void {}
  onQueueReady(queueId: u32): void {}
  onDone(): bool { return true; }
  onDelete(): void {}

  /** The context for a new HTTP stream of this plugin; a plugin that filters nothing keeps the default. */
  createStreamContext(id: u32): StreamContext { return new StreamContext(id, this); }
}

export class StreamContext {
  constructor(public id: u32, public root: RootContext) {}

  onRequestHeaders(numHeaders: u32, endOfStream: bool): i32 { return Action.CONTINUE; }
  onRequestBody(bodySize: u32, endOfStream: bool): i32 { return Action.CONTINUE; }
  onRequestTrailers(numTrailers: u32): i32 { return Action.CONTINUE; }
  onResponseHeaders(numHeaders: u32, endOfStream: bool): i32 { return Action.CONTINUE; }
  onResponseBody(bodySize: u32, endOfStream: bool): i32 { return Action.CONTINUE; }
  onResponseTrailers(numTrailers: u32): i32 { return Action.CONTINUE; }
  onDone(): bool { return true; }
  onLog(): void {}
  onDelete(): void {}
}

/** A plugin whose root_id no factory claims: it rejects its configuration, saying why. */
class UnknownRootContext extends RootContext {
  onConfigure(configurationSize: u32): bool {
    logError("entitlement-gate: unknown root_id \"" + this.rootId + "\" (expected one of: " + registeredRootIds() + ")");
    return false;
  }
}

export type RootFactory = (id: u32, rootId: string) => RootContext;

const factoryIds = new Array<string>();
const factories = new Array<RootFactory>();
const roots = new Map<u32, RootContext>();
const streams = new IdTable<StreamContext>();

export function registerRootContext(rootId: string, factory: RootFactory): void {
  factoryIds.push(rootId);
  factories.push(factory);
}

function registeredRootIds(): string {
  return factoryIds.join(", ");
}

export function createContext(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    refreshLogLevel();
    const property = getPropertyString(["plugin_root_id"]);
    const rootId = property === null ? "" : property;
    let root: RootContext | null = null;
    for (let i = 0; i < factoryIds.length; i++) {
      if (unchecked(factoryIds[i]) == rootId) {
        root = unchecked(factories[i])(contextId, rootId);
        break;
      }
    }
    // Envoy's default root_id is empty: a module with a single plugin type serves it.
    if (root === null && rootId.length == 0 && factories.length == 1) root = unchecked(factories[0])(contextId, rootId);
    if (root === null) root = new UnknownRootContext(contextId, rootId);
    roots.set(contextId, root);
    return;
  }
  if (roots.has(parentId)) {
    const root = roots.get(parentId);
    const stream = root.createStreamContext(contextId);
    streams.set(contextId, stream);
    lastStreamId = contextId;
    lastStream = stream;
  } else {
    logError("entitlement-gate: stream context " + contextId.toString() + " has unknown parent " + parentId.toString());
  }
}

export function findRoot(id: u32): RootContext | null {
  return roots.has(id) ? roots.get(id) : null;
}

/** The live root context of a plugin by its root_id (first one created), or null. */
export function findRootByRootId(rootId: string): RootContext | null {
  const all = roots.values();
  for (let i = 0; i < all.length; i++) {
    const root = unchecked(all[i]);
    if (root.rootId == rootId) return root;
  }
  return null;
}

// Envoy calls a stream's callbacks back to back (create, headers, ..., delete): remembering the last one
// found spares a map lookup on most of them.
let lastStreamId: u32 = 0;
let lastStream: StreamContext | null = null;

export function findStream(id: u32): StreamContext | null {
  if (id == lastStreamId && lastStream !== null) return lastStream;
  const stream = streams.get(id);
  if (stream === null) return null;
  lastStreamId = id;
  lastStream = stream;
  return stream;
}

export function deleteContext(id: u32): void {
  const stream = streams.get(id);
  if (stream !== null) {
    if (id == lastStreamId) lastStream = null;
    stream.onDelete();
    streams.delete(id);
  } else if (roots.has(id)) {
    roots.get(id).onDelete();
    roots.delete(id);
  }
}
