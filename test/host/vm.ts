// One Wasm VM: a WebAssembly.Instance of a proxy-wasm module, linked and started the way
// proxy-wasm-cpp-host does it, plus the bookkeeping Envoy keeps per VM (contexts, deferred actions,
// failure state).
import { readFile } from "node:fs/promises";
import {
  type AbiVersion,
  detectAbiVersion,
  envImportTypes,
  exportTypes,
  LogLevel,
  WASI_IMPORT_TYPES,
  WASI_MODULES,
} from "./abi.ts";
import type { TimerHandle } from "./clock.ts";
import type { HeaderList } from "./headerMap.ts";
import type { CallHandle, HttpCallResponse } from "./httpCall.ts";
import type { GrpcOutbound } from "./grpcCall.ts";
import type { HttpStreamState } from "./httpStream.ts";
import type { HostRuntime } from "./runtime.ts";
import type { MetricKind, MetricValue } from "./metrics.ts";
import { formatFuncType, parseWasmModule, sameFuncType, type FuncType, type WasmModuleInfo } from "./wasmBinary.ts";
import { buildEnvImports } from "./hostFunctions.ts";
import { buildWasiImports } from "./wasi.ts";
import { ShortStringCache } from "./shortStrings.ts";

export class WasmLoadError extends Error {
  override name = "WasmLoadError";
}

/** A pointer from the plugin fell outside linear memory; host functions answer INVALID_MEMORY_ACCESS. */
export class MemoryAccessError extends Error {
  override name = "MemoryAccessError";
}

export interface PluginSpec {
  vmId: string;
  rootId: string;
  name?: string;
  /** Compiled module bytes, or a path to a .wasm file. */
  wasm: Uint8Array | string;
  configuration: string;
  vmConfiguration?: string;
  /** What Envoy's vm_config.environment_variables would expose through WASI environ_get. */
  environmentVariables?: Record<string, string>;
  /**
   * HTTP filters only, Envoy's PluginConfig.failure_policy: FAIL_CLOSED (default) answers 503 on a
   * failed VM; FAIL_OPEN skips the filter; FAIL_RELOAD creates a new VM for the next request once
   * `reloadBackoffMs` (default 1000, host clock) has passed since the last attempt, 503 meanwhile.
   */
  failurePolicy?: "FAIL_CLOSED" | "FAIL_OPEN" | "FAIL_RELOAD";
  reloadBackoffMs?: number;
}

/**
 * Where the plugin's root context is in Envoy's teardown: "active" until torn down; "awaitingDone" after
 * proxy_on_done returned false, until the plugin calls proxy_done; "deleted" once proxy_on_delete ran
 * (or the VM failed or the host closed first, with no more callbacks).
 */
export type RootState = "active" | "awaitingDone" | "deleted";

export interface Vm {
  id: string;
  failed: boolean;
  failure?: string;
  rootState: RootState;
  hostCallCount: number;
  /** Bytes of shared-data values copied into this VM by proxy_get_shared_data. */
  sharedDataBytesRead: number;
  memoryBytes(): number;
}

export interface CompiledPlugin {
  module: WebAssembly.Module;
  info: WasmModuleInfo;
  abi: AbiVersion;
}

export interface PluginInfo {
  vmId: string;
  rootId: string;
  name: string;
  configuration: Uint8Array;
  vmConfiguration: Uint8Array;
  environment: Array<[string, string]>;
}

export interface GrpcCallState {
  outbound: GrpcOutbound;
  isStream: boolean;
  /** The plugin called proxy_grpc_close (half-close) on this stream. */
  localClosed: boolean;
  /** proxy_on_grpc_close was delivered; Envoy keeps the token until the plugin closes it too. */
  remoteClosed: boolean;
}

export interface RootContext {
  kind: "root";
  id: number;
  plugin: PluginInfo;
  tickPeriodMs: number;
  tickTimer?: TimerHandle;
  tickGeneration: number;
  httpCalls: Map<number, CallHandle>;
  grpcCalls: Map<number, GrpcCallState>;
  nextHttpToken: number;
  nextGrpcCallToken: number;
  nextGrpcStreamToken: number;
}

export interface StreamContext {
  kind: "stream";
  id: number;
  root: RootContext;
  stream: HttpStreamState;
}

export type Context = RootContext | StreamContext;

/** Data only readable during one callback (http call response, gRPC message / metadata). */
export interface CallScope {
  httpCallResponse?: HttpCallResponse;
  grpcMessage?: Uint8Array;
  grpcInitialMetadata?: HeaderList;
  grpcTrailingMetadata?: HeaderList;
  /** Readable only during proxy_on_vm_start, as in Envoy. */
  vmConfiguration?: Uint8Array;
  /** Readable only during proxy_on_configure / proxy_validate_configuration. */
  pluginConfiguration?: Uint8Array;
}

const moduleCache = new Map<string, Promise<CompiledPlugin>>();

/** Compiles and checks a module the way Envoy's V8 host links it; throws WasmLoadError. */
export async function compilePlugin(wasm: Uint8Array | string): Promise<CompiledPlugin> {
  if (typeof wasm === "string") {
    let cached = moduleCache.get(wasm);
    if (cached === undefined) {
      cached = readFile(wasm).then((bytes) => compileBytes(new Uint8Array(bytes)));
      moduleCache.set(wasm, cached);
      cached.catch(() => moduleCache.delete(wasm));
    }
    return cached;
  }
  return compileBytes(wasm);
}

async function compileBytes(bytes: Uint8Array): Promise<CompiledPlugin> {
  let info: WasmModuleInfo;
  try {
    info = parseWasmModule(bytes);
  } catch (e) {
    throw new WasmLoadError(`Failed to load Wasm code: ${(e as Error).message}`);
  }
  const abi = detectAbiVersion(info.exports.map((e) => e.name));
  if (abi === undefined) throw new WasmLoadError("Missing or unknown Proxy-Wasm ABI version");
  checkImports(info, abi);
  checkExports(info, abi);
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new WasmLoadError(`Failed to load Wasm code: ${(e as Error).message}`);
  }
  return { module, info, abi };
}

function checkImports(info: WasmModuleInfo, abi: AbiVersion): void {
  const env = envImportTypes(abi);
  for (const imp of info.imports) {
    const qualified = `${imp.module}.${imp.name}`;
    let want: FuncType | undefined;
    if (imp.module === "env") want = env.get(imp.name);
    else if (WASI_MODULES.includes(imp.module)) want = WASI_IMPORT_TYPES.get(imp.name);
    if (want === undefined || imp.kind !== "func" || imp.type === undefined) {
      throw new WasmLoadError(`Failed to load Wasm module due to a missing import: ${qualified}`);
    }
    if (!sameFuncType(imp.type, want)) {
      throw new WasmLoadError(
        `Failed to load Wasm module due to an import type mismatch: ${qualified}, want: ${formatFuncType(imp.type)}, but host exports: ${formatFuncType(want)}`,
      );
    }
  }
}

function checkExports(info: WasmModuleInfo, abi: AbiVersion): void {
  const expected = exportTypes(abi);
  const names = new Set<string>();
  for (const exp of info.exports) {
    names.add(exp.name);
    const want = expected.get(exp.name);
    if (want === undefined || exp.kind !== "func" || exp.type === undefined) continue;
    if (!sameFuncType(exp.type, want)) throw new WasmLoadError(`Bad function signature for: ${exp.name}`);
  }
  if (!names.has("proxy_on_memory_allocate") && !names.has("malloc")) {
    throw new WasmLoadError("Wasm module is missing malloc function");
  }
  if (!info.exports.some((e) => e.name === "memory" && e.kind === "memory")) {
    throw new WasmLoadError("Wasm module is missing an exported memory");
  }
}

type ExportFn = (...args: number[]) => number | bigint | undefined;

export class WasmVm implements Vm {
  failed = false;
  failure?: string;
  hostCallCount = 0;
  sharedDataBytesRead = 0;
  effective: Context | undefined;
  scope: CallScope = {};
  /** What proxy_get_status reports: the last gRPC close / http call outcome. */
  status = { code: 0, message: "" };
  readonly contexts = new Map<number, Context>();
  readonly abi: AbiVersion;
  /** Ids this VM defined, with the host-wide stat each one counts into (a stat is never replaced). */
  readonly metricIds = new Map<number, { name: string; kind: MetricKind; stat: MetricValue }>();
  nextMetricIndex = 0;
  root!: RootContext;
  rootState: RootState = "active";

  private readonly instance: WebAssembly.Instance;
  private readonly memory: WebAssembly.Memory;
  private readonly fns = new Map<string, ExportFn>();
  private readonly malloc: ExportFn;
  private nextContextId = 1;
  private depth = 0;
  private afterCall: Array<() => void> = [];
  private cachedBuffer: ArrayBuffer | undefined;
  private cachedU8 = new Uint8Array(0);
  private readonly strings = new ShortStringCache();
  private cachedView = new DataView(new ArrayBuffer(0));
  /** proxy_done was accepted; proxy_on_delete follows once the current VM call returns. */
  private deleteScheduled = false;
  private rootDeleted: Promise<void> | undefined;
  private resolveRootDeleted: () => void = () => {};

  constructor(
    readonly id: string,
    readonly runtime: HostRuntime,
    compiled: CompiledPlugin,
    readonly plugin: PluginInfo,
  ) {
    this.abi = compiled.abi;
    const imports: WebAssembly.Imports = { env: buildEnvImports(this) };
    const wasi = buildWasiImports(this);
    for (const m of WASI_MODULES) imports[m] = wasi;
    try {
      this.instance = new WebAssembly.Instance(compiled.module, imports);
    } catch (e) {
      throw new WasmLoadError(`Failed to instantiate Wasm module: ${(e as Error).message}`);
    }
    for (const [name, value] of Object.entries(this.instance.exports)) {
      if (typeof value === "function") this.fns.set(name, value as ExportFn);
    }
    this.memory = this.instance.exports["memory"] as WebAssembly.Memory;
    this.malloc = (this.fns.get("proxy_on_memory_allocate") ?? this.fns.get("malloc"))!;
  }

  /** Runs the module's start functions; throws WasmLoadError when they trap. */
  start(): void {
    if (this.fns.has("_initialize")) {
      this.callIn(undefined, "_initialize");
      if (!this.failed && this.fns.has("main")) this.callIn(undefined, "main", 0, 0);
    } else if (this.fns.has("_start")) {
      this.callIn(undefined, "_start");
    }
    if (this.failed) throw new WasmLoadError(`Failed to start Wasm module: ${this.failure}`);
  }

  hasExport(name: string): boolean {
    return this.fns.has(name);
  }

  memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  allocContextId(): number {
    return this.nextContextId++;
  }

  createRootContext(): RootContext {
    const root: RootContext = {
      kind: "root",
      id: this.allocContextId(),
      plugin: this.plugin,
      tickPeriodMs: 0,
      tickGeneration: 0,
      httpCalls: new Map(),
      grpcCalls: new Map(),
      nextHttpToken: 1,
      nextGrpcCallToken: 1,
      nextGrpcStreamToken: 2,
    };
    this.contexts.set(root.id, root);
    this.root = root;
    return root;
  }

  /**
   * Calls an export with `ctx` as the current context. Only the outermost call catches: a trap marks
   * the VM failed. Deferred actions (local replies, continues) run once the outermost call returns.
   * Returns undefined when the VM has failed or the export is absent.
   */
  callIn(ctx: Context | undefined, name: string, ...args: number[]): number | undefined {
    return this.invoke(ctx, undefined, name, args);
  }

  /** callIn with data readable only during this call (http call response, gRPC message, configuration). */
  callInScope(ctx: Context | undefined, scope: CallScope, name: string, ...args: number[]): number | undefined {
    return this.invoke(ctx, scope, name, args);
  }

  private invoke(ctx: Context | undefined, scope: CallScope | undefined, name: string, args: number[]): number | undefined {
    if (this.failed) return undefined;
    const fn = this.fns.get(name);
    if (fn === undefined) return undefined;
    const previous = this.effective;
    const previousScope = this.scope;
    this.effective = ctx;
    if (scope !== undefined) this.scope = scope;
    this.depth++;
    let result: number | bigint | undefined;
    let threw = false;
    try {
      result = fn(...args);
    } catch (e) {
      if (this.depth > 1) throw e;
      threw = true;
      this.fail(e instanceof Error ? e.message : String(e), name);
    } finally {
      this.depth--;
      this.effective = previous;
      this.scope = previousScope;
    }
    // After the scope is gone, so a stream resumed from here cannot read the callback's buffers.
    if (this.depth === 0) this.runAfterCallActions();
    if (threw) return undefined;
    return typeof result === "number" ? result : result === undefined ? 0 : Number(result);
  }

  /** Like Envoy's addAfterVmCallAction: runs after the current outermost VM call returns. */
  deferAfterCall(action: () => void): void {
    if (this.depth === 0) action();
    else this.afterCall.push(action);
  }

  private runAfterCallActions(): void {
    while (this.afterCall.length > 0) this.afterCall.shift()!();
  }

  /** Marks the VM failed: no more callbacks, timers and outbound calls are cancelled. */
  fail(message: string, functionName?: string): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = message;
    this.runtime.log(this.id, LogLevel.critical, functionName ? `Function: ${functionName} failed: ${message}` : `VM failed: ${message}`);
    if (this.rootState === "awaitingDone") this.markRootDeleted();
    for (const ctx of this.contexts.values()) {
      if (ctx.kind !== "root") continue;
      ctx.tickTimer?.cancel();
      ctx.tickTimer = undefined;
      ctx.tickPeriodMs = 0;
      for (const call of ctx.httpCalls.values()) call.cancel();
      ctx.httpCalls.clear();
      for (const call of ctx.grpcCalls.values()) call.outbound.cancel();
      ctx.grpcCalls.clear();
    }
  }

  /**
   * Stops timers and outbound calls without marking the VM failed (host shutdown, or the root deleted).
   * A root still awaiting proxy_done is dropped without proxy_on_delete, as ~WasmBase drops pending_done_.
   */
  shutdown(): void {
    for (const ctx of this.contexts.values()) {
      if (ctx.kind !== "root") continue;
      // A new generation also stops a tick that is running now from scheduling the next one.
      ctx.tickGeneration++;
      ctx.tickTimer?.cancel();
      ctx.tickTimer = undefined;
      ctx.tickPeriodMs = 0;
      for (const call of ctx.httpCalls.values()) call.cancel();
      ctx.httpCalls.clear();
      for (const call of ctx.grpcCalls.values()) call.outbound.cancel();
      ctx.grpcCalls.clear();
    }
    if (this.rootState === "awaitingDone") this.markRootDeleted();
  }

  /**
   * Tears the plugin down as cpp-host's WasmBase::startShutdown does: proxy_on_done on the root context;
   * true (or no such export) → proxy_on_delete at once; false → the root stays alive (ticks, call and
   * queue callbacks) until the plugin calls proxy_done, and is deleted after that VM call returns. A
   * failed VM gets no callbacks. Resolves once the root is deleted; calling it again returns the same.
   */
  startShutdown(): Promise<void> {
    if (this.rootDeleted === undefined) {
      this.rootDeleted = new Promise<void>((resolve) => {
        this.resolveRootDeleted = resolve;
      });
      if (this.failed) {
        this.markRootDeleted();
      } else {
        // The root is not pending yet while proxy_on_done runs: a proxy_done from inside it is NOT_FOUND.
        const done = this.callIn(this.root, "proxy_on_done", this.root.id);
        if (this.failed) this.markRootDeleted();
        else if (done === 0) this.rootState = "awaitingDone";
        else this.deleteRoot();
      }
    }
    return this.rootDeleted;
  }

  /** proxy_done: OK only while the root awaits it (once); proxy_on_delete runs after the current VM call. */
  done(): boolean {
    if (this.rootState !== "awaitingDone" || this.deleteScheduled) return false;
    this.deleteScheduled = true;
    this.deferAfterCall(() => this.deleteRoot());
    return true;
  }

  private deleteRoot(): void {
    if (this.rootState === "deleted") return;
    this.callIn(this.root, "proxy_on_delete", this.root.id);
    this.markRootDeleted();
    this.shutdown();
  }

  private markRootDeleted(): void {
    this.rootState = "deleted";
    this.resolveRootDeleted();
  }

  log(level: number, message: string): void {
    this.runtime.log(this.id, level, message);
  }

  // ---- linear memory -------------------------------------------------------------------------

  private refreshViews(): void {
    // Growing the memory detaches the old ArrayBuffer (its views read as length 0), so the views only
    // need renewing then: asking `memory.buffer` on every host call cost more than the call's own work.
    if (this.cachedU8.length !== 0) return;
    const buffer = this.memory.buffer;
    if (buffer !== this.cachedBuffer) {
      this.cachedBuffer = buffer;
      this.cachedU8 = new Uint8Array(buffer);
      this.cachedView = new DataView(buffer);
    }
  }

  private check(ptr: number, len: number): void {
    this.refreshViews();
    if (ptr < 0 || len < 0 || ptr + len > this.cachedU8.length) {
      throw new MemoryAccessError(`access of ${len} bytes at ${ptr} is outside linear memory`);
    }
  }

  /** A view into linear memory: use it before the next call into the module. */
  view(ptr: number, len: number): Uint8Array {
    ptr >>>= 0;
    len >>>= 0;
    this.check(ptr, len);
    return this.cachedU8.subarray(ptr, ptr + len);
  }

  copy(ptr: number, len: number): Uint8Array {
    return this.view(ptr, len).slice();
  }

  /** The bytes at ptr as UTF-8 text (invalid sequences become U+FFFD, as TextDecoder does). */
  string(ptr: number, len: number): string {
    const start = this.at(ptr, len);
    return this.strings.decode(this.cachedU8, start, start + (len >>> 0));
  }

  /** Checks that [ptr, ptr + len) is inside linear memory and returns ptr as an index into bytes(). */
  at(ptr: number, len: number): number {
    ptr >>>= 0;
    this.check(ptr, len >>> 0);
    return ptr;
  }

  /** Linear memory as bytes, valid until the next call into the module (see allocateOut). */
  bytes(): Uint8Array {
    this.refreshViews();
    return this.cachedU8;
  }

  /** Linear memory as a DataView, valid as long as bytes() is. */
  dataView(): DataView {
    this.refreshViews();
    return this.cachedView;
  }

  writeU32(ptr: number, value: number): void {
    ptr >>>= 0;
    this.check(ptr, 4);
    this.cachedView.setUint32(ptr, value >>> 0, true);
  }

  writeU64(ptr: number, value: bigint): void {
    ptr >>>= 0;
    this.check(ptr, 8);
    this.cachedView.setBigUint64(ptr, BigInt.asUintN(64, value), true);
  }

  writeBytes(ptr: number, bytes: Uint8Array): void {
    ptr >>>= 0;
    this.check(ptr, bytes.length);
    this.cachedU8.set(bytes, ptr);
  }

  /**
   * Host-returned bytes: allocated in the module through its allocator, pointer and size written to
   * the out-params. Empty values are passed as (0, 0) without allocating, like cpp-host.
   */
  copyOut(bytes: Uint8Array, ptrPtr: number, sizePtr: number): void {
    const ptr = this.allocate(bytes.length);
    if (ptr !== 0) this.writeBytes(ptr, bytes);
    this.writeU32(ptrPtr, ptr);
    this.writeU32(sizePtr, bytes.length);
  }

  /**
   * copyOut for bytes the caller writes itself, straight into the module's memory: allocates `size` bytes
   * (none for 0), writes the out-params, and returns the block's address. Write the block through
   * bytes() right away, before anything calls into the module again.
   */
  allocateOut(size: number, ptrPtr: number, sizePtr: number): number {
    const ptr = this.allocate(size);
    if (ptr !== 0) this.check(ptr, size);
    this.writeU32(ptrPtr, ptr);
    this.writeU32(sizePtr, size);
    return ptr;
  }

  private allocate(size: number): number {
    if (size === 0) return 0;
    let ptr: number;
    this.depth++;
    try {
      ptr = Number(this.malloc(size) ?? 0) >>> 0;
    } finally {
      this.depth--;
    }
    if (ptr === 0) throw new MemoryAccessError("module allocator returned 0");
    return ptr;
  }
}

export function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

