// Public surface of the proxy-wasm test host. See README.md.
export type { HeaderList } from "./headerMap.ts";
export { serializeHeaderMap, deserializeHeaderMap } from "./headerMap.ts";
export type { ClusterTarget } from "./upstreamConnections.ts";
export { type Clock, type TimerHandle, RealClock, ManualClock } from "./clock.ts";
export { EnvoyHost, type HostOptions, type ServicePlugin, type HttpFilter, type SharedQueueConsumer } from "./envoyHost.ts";
export type { HttpRequestSpec, HttpResult } from "./streamRun.ts";
export { FAIL_STREAM_DETAILS, HOST_TIMEOUT_DETAILS, CLOSE_STREAM_DETAILS } from "./streamRun.ts";
export { type PluginSpec, type Vm, type RootState, WasmLoadError, compilePlugin, type CompiledPlugin } from "./vm.ts";
export type { SharedDataStore, SharedDataEntry } from "./sharedData.ts";
export type { MetricValue, MetricKind } from "./metrics.ts";
export type { LogEntry } from "./runtime.ts";
export { Status, Action, BufferType, MapType, StreamType, MetricType, LogLevel, GrpcCode } from "./abi.ts";
export { parseWasmModule, type WasmModuleInfo, type FuncType } from "./wasmBinary.ts";
export { frameGrpcMessage, GrpcDeframer } from "./grpcCall.ts";
