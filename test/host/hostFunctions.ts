// The `env` host functions of ABI 0.2.1 (and the 0.1.0 leftovers), with Envoy's statuses and quirks.
import { BufferType, envImportTypes, GrpcCode, LogLevel, MapType, Status, StreamType } from "./abi.ts";
import { deserializeHeaderMap, type HeaderList, HeaderMapEncoder } from "./headerMap.ts";
import { headerValue, startHttpCall } from "./httpCall.ts";
import { openGrpc, type GrpcEvents, type GrpcOutbound } from "./grpcCall.ts";
import type { LocalReply } from "./httpStream.ts";
import { metricKind } from "./metrics.ts";
import { type GrpcCallState, isAscii, MemoryAccessError, type RootContext, type StreamContext, type WasmVm } from "./vm.ts";

// Placeholder while openGrpc runs: it may report a failure before returning the real handle.
const PENDING_OUTBOUND: GrpcOutbound = { send() {}, closeSend() {}, cancel() {} };

type HostFn = (...args: never[]) => number | void;
const encoder = new TextEncoder();

function rootOf(vm: WasmVm): RootContext {
  const ctx = vm.effective;
  if (ctx === undefined) return vm.root;
  return ctx.kind === "root" ? ctx : ctx.root;
}

function streamOf(vm: WasmVm): StreamContext | undefined {
  const ctx = vm.effective;
  return ctx !== undefined && ctx.kind === "stream" ? ctx : undefined;
}

/**
 * The header map `type` for the effective context, as Envoy's getMap (mutable: add, replace, remove,
 * set pairs, size) or getConstMap (readable: get value, get pairs). undefined = not available now.
 */
function getMap(vm: WasmVm, type: number, mutable: boolean): HeaderList | undefined {
  const stream = streamOf(vm)?.stream;
  const logPhase = !mutable && stream?.accessLogPhase === true;
  switch (type) {
    case MapType.HTTP_REQUEST_HEADERS:
      return stream !== undefined && (stream.requestHeadersAttached || logPhase) ? stream.requestHeaders : undefined;
    case MapType.HTTP_RESPONSE_HEADERS:
      return stream !== undefined && (stream.responseHeadersAttached || logPhase) ? stream.responseHeaders : undefined;
    case MapType.HTTP_REQUEST_TRAILERS:
    case MapType.HTTP_RESPONSE_TRAILERS:
      return undefined;
    case MapType.GRPC_CALL_INITIAL_METADATA:
      return mutable ? undefined : vm.scope.grpcInitialMetadata;
    case MapType.GRPC_CALL_TRAILING_METADATA:
      return mutable ? undefined : vm.scope.grpcTrailingMetadata;
    case MapType.HTTP_CALL_RESPONSE_HEADERS:
      return mutable ? undefined : vm.scope.httpCallResponse?.headers;
    case MapType.HTTP_CALL_RESPONSE_TRAILERS:
      return mutable ? undefined : vm.scope.httpCallResponse?.trailers;
    default:
      return undefined;
  }
}

const NO_BYTES = new Uint8Array(0);
/** One for the whole host: JavaScript runs one host call at a time, and encode/writeTo run back to back. */
const headerMapEncoder = new HeaderMapEncoder();

/** Envoy's getBuffer: bodies and the gRPC message read as empty when not available, others NOT_FOUND. */
function getBuffer(vm: WasmVm, type: number): Uint8Array | undefined {
  const stream = streamOf(vm)?.stream;
  switch (type) {
    case BufferType.HTTP_REQUEST_BODY:
      return stream !== undefined && stream.requestBodyAttached ? stream.requestBody : NO_BYTES;
    case BufferType.HTTP_RESPONSE_BODY:
      return stream !== undefined && stream.responseBodyAttached ? stream.responseBody : NO_BYTES;
    case BufferType.DOWNSTREAM_DATA:
    case BufferType.UPSTREAM_DATA:
      return NO_BYTES;
    case BufferType.HTTP_CALL_RESPONSE_BODY:
      return vm.scope.httpCallResponse?.body;
    case BufferType.GRPC_CALL_MESSAGE:
      return vm.scope.grpcMessage ?? NO_BYTES;
    case BufferType.VM_CONFIGURATION:
      return vm.plugin.vmConfiguration;
    case BufferType.PLUGIN_CONFIGURATION:
      return vm.scope.pluginConfiguration;
    default:
      return undefined;
  }
}

function headerByteSize(list: HeaderList): number {
  let size = 0;
  for (const [k, v] of list) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  return size;
}

function propertyValue(vm: WasmVm, path: string): Uint8Array | undefined {
  const stream = streamOf(vm);
  const own = stream?.stream.properties.get(path);
  if (own !== undefined) return own;
  const ctx = vm.effective;
  if (ctx !== undefined) {
    const plugin = (ctx.kind === "root" ? ctx : ctx.root).plugin;
    if (path === "plugin_root_id") return encoder.encode(plugin.rootId);
    if (path === "plugin_name") return encoder.encode(plugin.name);
    if (path === "plugin_vm_id") return encoder.encode(plugin.vmId);
  }
  if (stream !== undefined) {
    const req = stream.stream.requestHeaders;
    const parts = path.split("\0");
    if (parts[0] === "request") {
      const field = parts[1];
      const pick = (key: string): Uint8Array | undefined => {
        const v = headerValue(req, key);
        return v === undefined ? undefined : encoder.encode(v);
      };
      if (field === "path") return pick(":path");
      if (field === "url_path") {
        const p = headerValue(req, ":path");
        return p === undefined ? undefined : encoder.encode(p.split("?")[0]!);
      }
      if (field === "method") return pick(":method");
      if (field === "host") return pick(":authority");
      if (field === "scheme") return pick(":scheme");
      if (field === "headers" && parts[2] !== undefined) return pick(parts[2].toLowerCase());
    }
    if (path === "response\0code") {
      const status = headerValue(stream.stream.responseHeaders, ":status");
      if (status !== undefined) {
        const out = new Uint8Array(8);
        new DataView(out.buffer).setBigInt64(0, BigInt(Number(status)), true);
        return out;
      }
    }
  }
  return vm.runtime.properties.get(path);
}

export function setTickPeriod(vm: WasmVm, root: RootContext, periodMs: number): void {
  root.tickGeneration++;
  root.tickTimer?.cancel();
  root.tickTimer = undefined;
  root.tickPeriodMs = periodMs;
  if (periodMs > 0) scheduleTick(vm, root);
}

function scheduleTick(vm: WasmVm, root: RootContext): void {
  const generation = root.tickGeneration;
  root.tickTimer = vm.runtime.clock.setTimer(root.tickPeriodMs, () => {
    if (generation !== root.tickGeneration || vm.failed || vm.runtime.closed) return;
    root.tickTimer = undefined;
    vm.callIn(root, "proxy_on_tick", root.id);
    if (generation === root.tickGeneration && !vm.failed && !vm.runtime.closed && root.tickPeriodMs > 0) {
      scheduleTick(vm, root);
    }
  });
}

function deliverGrpc(vm: WasmVm, root: RootContext, token: number, isStream: boolean): GrpcEvents {
  const live = () => {
    const state = root.grpcCalls.get(token);
    return state !== undefined && !state.remoteClosed && !vm.failed && !vm.runtime.closed;
  };
  let unaryResponse: Uint8Array | undefined;
  return {
    initialMetadata(headers) {
      if (!isStream || !live()) return;
      vm.callInScope(root, { grpcInitialMetadata: headers }, "proxy_on_grpc_receive_initial_metadata", root.id, token, headers.length);
    },
    message(bytes) {
      if (!live()) return;
      if (!isStream) {
        unaryResponse ??= bytes;
        return;
      }
      vm.callInScope(root, { grpcMessage: bytes }, "proxy_on_grpc_receive", root.id, token, bytes.length);
    },
    trailingMetadata(trailers) {
      if (!isStream || !live()) return;
      vm.callInScope(root, { grpcTrailingMetadata: trailers }, "proxy_on_grpc_receive_trailing_metadata", root.id, token, trailers.length);
    },
    close(code, message) {
      if (!live()) return;
      const state = root.grpcCalls.get(token)!;
      // Envoy forgets a call at once, a stream only when both sides are closed.
      if (!isStream || state.localClosed) root.grpcCalls.delete(token);
      else state.remoteClosed = true;
      // Envoy's unary client reports success with only proxy_on_grpc_receive, failure with only close.
      if (!isStream && code === GrpcCode.OK && unaryResponse !== undefined) {
        vm.status = { code: 0, message: "" };
        vm.callInScope(root, { grpcMessage: unaryResponse }, "proxy_on_grpc_receive", root.id, token, unaryResponse.length);
        return;
      }
      if (!isStream && code === GrpcCode.OK) {
        code = GrpcCode.INTERNAL;
        message = "unary call returned no message";
      }
      vm.status = { code, message };
      vm.callIn(root, "proxy_on_grpc_close", root.id, token, code);
    },
  };
}

export function buildEnvImports(vm: WasmVm): Record<string, HostFn> {
  const runtime = vm.runtime;
  const store = () => runtime.store(vm.plugin.vmId);

  /**
   * The common part of proxy_grpc_call and proxy_grpc_stream: resolve the cluster, parse the metadata,
   * hand out a token (calls and streams have their own token sequences, as in cpp-host) and open the
   * HTTP/2 stream. Returns the failing status, or the call's state.
   */
  function openGrpcFromVm(
    isStream: boolean,
    upstreamPtr: number,
    upstreamLen: number,
    servicePtr: number,
    serviceLen: number,
    methodPtr: number,
    methodLen: number,
    metadataPtr: number,
    metadataLen: number,
    tokenPtr: number,
    timeoutMs?: number,
  ): GrpcCallState | number {
    const cluster = vm.string(upstreamPtr, upstreamLen);
    const service = vm.string(servicePtr, serviceLen);
    const method = vm.string(methodPtr, methodLen);
    const metadata = deserializeHeaderMap(vm.view(metadataPtr, metadataLen));
    const target = runtime.clusters.get(cluster);
    if (target === undefined) return Status.PARSE_FAILURE;
    if (metadata === undefined) return Status.BAD_ARGUMENT;
    const root = rootOf(vm);
    const token = isStream ? root.nextGrpcStreamToken : root.nextGrpcCallToken;
    if (isStream) root.nextGrpcStreamToken += 2;
    else root.nextGrpcCallToken += 2;
    vm.writeU32(tokenPtr, token);
    const state: GrpcCallState = { outbound: PENDING_OUTBOUND, isStream, localClosed: false, remoteClosed: false };
    root.grpcCalls.set(token, state);
    state.outbound = openGrpc(
      runtime.connections,
      target,
      { service, method, metadata, ...(timeoutMs === undefined ? {} : { timeoutMs }), clock: runtime.clock },
      deliverGrpc(vm, root, token, isStream),
    );
    return state;
  }

  const fns: Record<string, HostFn> = {
    proxy_log(level: number, ptr: number, len: number) {
      if (level < 0 || level > LogLevel.critical) return Status.BAD_ARGUMENT;
      vm.log(level, vm.string(ptr, len));
      return Status.OK;
    },
    proxy_get_log_level(out: number) {
      vm.writeU32(out, runtime.logLevel);
      return Status.OK;
    },
    proxy_get_current_time_nanoseconds(out: number) {
      vm.writeU64(out, BigInt(Math.floor(runtime.clock.nowMs())) * 1_000_000n);
      return Status.OK;
    },
    proxy_set_tick_period_milliseconds(periodMs: number) {
      setTickPeriod(vm, rootOf(vm), periodMs >>> 0);
      return Status.OK;
    },

    proxy_get_buffer_bytes(type: number, start: number, maxSize: number, ptrPtr: number, sizePtr: number) {
      if (type < 0 || type > BufferType.FOREIGN_FUNCTION_ARGUMENTS) return Status.BAD_ARGUMENT;
      const buffer = getBuffer(vm, type);
      if (buffer === undefined) return Status.NOT_FOUND;
      start >>>= 0;
      maxSize >>>= 0;
      // cpp-host clamps: a start past the end, or nothing left, answers OK with (0, 0).
      const end = start > buffer.length ? start : Math.min(buffer.length, start + maxSize);
      vm.copyOut(end > start ? buffer.subarray(start, end) : NO_BYTES, ptrPtr, sizePtr);
      return Status.OK;
    },
    proxy_get_buffer_status(type: number, sizePtr: number, flagsPtr: number) {
      if (type < 0 || type > BufferType.FOREIGN_FUNCTION_ARGUMENTS) return Status.BAD_ARGUMENT;
      const buffer = getBuffer(vm, type);
      if (buffer === undefined) return Status.NOT_FOUND;
      vm.writeU32(sizePtr, buffer.length);
      vm.writeU32(flagsPtr, 0);
      return Status.OK;
    },
    proxy_set_buffer_bytes(type: number, start: number, size: number, ptr: number, len: number) {
      if (type < 0 || type > BufferType.FOREIGN_FUNCTION_ARGUMENTS) return Status.BAD_ARGUMENT;
      const stream = streamOf(vm)?.stream;
      const attached =
        stream !== undefined &&
        ((type === BufferType.HTTP_REQUEST_BODY && stream.requestBodyAttached) ||
          (type === BufferType.HTTP_RESPONSE_BODY && stream.responseBodyAttached));
      if (!attached) return Status.NOT_FOUND;
      const current = type === BufferType.HTTP_REQUEST_BODY ? stream.requestBody : stream.responseBody;
      const data = vm.copy(ptr, len);
      start >>>= 0;
      size >>>= 0;
      // Envoy's Buffer::copyFrom: prepend, replace all, or append; nothing in between.
      let next: Uint8Array;
      if (start === 0 && size === 0) next = Buffer.concat([data, current]);
      else if (start === 0 && size >= current.length) next = data;
      else if (start >= current.length) next = Buffer.concat([current, data]);
      else return Status.BAD_ARGUMENT;
      if (type === BufferType.HTTP_REQUEST_BODY) stream.requestBody = new Uint8Array(next);
      else stream.responseBody = new Uint8Array(next);
      return Status.OK;
    },

    proxy_get_header_map_value(type: number, keyPtr: number, keyLen: number, ptrPtr: number, sizePtr: number) {
      if (type < 0 || type > MapType.HTTP_CALL_RESPONSE_TRAILERS) return Status.BAD_ARGUMENT;
      const key = vm.string(keyPtr, keyLen).toLowerCase();
      const map = getMap(vm, type, false);
      // A map that is not there: BAD_ARGUMENT, except while logging (NOT_FOUND), as in Envoy.
      if (map === undefined) return streamOf(vm)?.stream.accessLogPhase ? Status.NOT_FOUND : Status.BAD_ARGUMENT;
      for (const [k, v] of map) {
        if (k === key) {
          vm.copyOut(encoder.encode(v), ptrPtr, sizePtr);
          return Status.OK;
        }
      }
      return Status.NOT_FOUND;
    },
    proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number) {
      if (type < 0 || type > MapType.HTTP_CALL_RESPONSE_TRAILERS) return Status.BAD_ARGUMENT;
      // Envoy turns a missing map into no pairs, and no pairs into (0, 0).
      const map = getMap(vm, type, false);
      const size = map === undefined || map.length === 0 ? 0 : headerMapEncoder.encode(map);
      const ptr = vm.allocateOut(size, ptrPtr, sizePtr);
      if (size > 0) headerMapEncoder.writeTo(vm.bytes(), vm.dataView(), ptr);
      return Status.OK;
    },
    proxy_set_header_map_pairs(type: number, ptr: number, len: number) {
      const map = getMap(vm, type, true);
      if (map === undefined) return Status.BAD_ARGUMENT;
      const pairs = deserializeHeaderMap(vm.view(ptr, len));
      if (pairs === undefined) return Status.BAD_ARGUMENT;
      map.length = 0;
      for (const [k, v] of pairs) map.push([k.toLowerCase(), v]);
      return Status.OK;
    },
    proxy_add_header_map_value(type: number, keyPtr: number, keyLen: number, valPtr: number, valLen: number) {
      const map = getMap(vm, type, true);
      if (map === undefined) return Status.BAD_ARGUMENT;
      map.push([vm.string(keyPtr, keyLen).toLowerCase(), vm.string(valPtr, valLen)]);
      return Status.OK;
    },
    proxy_replace_header_map_value(type: number, keyPtr: number, keyLen: number, valPtr: number, valLen: number) {
      const map = getMap(vm, type, true);
      if (map === undefined) return Status.BAD_ARGUMENT;
      const key = vm.string(keyPtr, keyLen).toLowerCase();
      const value = vm.string(valPtr, valLen);
      // Envoy's setCopy: the first entry keeps its place with the new value, the others go.
      const first = map.findIndex(([k]) => k === key);
      if (first < 0) {
        map.push([key, value]);
        return Status.OK;
      }
      map[first] = [key, value];
      for (let i = map.length - 1; i > first; i--) if (map[i]![0] === key) map.splice(i, 1);
      return Status.OK;
    },
    proxy_remove_header_map_value(type: number, keyPtr: number, keyLen: number) {
      const map = getMap(vm, type, true);
      if (map === undefined) return Status.BAD_ARGUMENT;
      const key = vm.string(keyPtr, keyLen).toLowerCase();
      for (let i = map.length - 1; i >= 0; i--) if (map[i]![0] === key) map.splice(i, 1);
      return Status.OK;
    },
    proxy_get_header_map_size(type: number, out: number) {
      const map = getMap(vm, type, true);
      if (map === undefined) return Status.BAD_ARGUMENT;
      // Envoy answers the map's byte size (keys + values), not the number of entries.
      vm.writeU32(out, headerByteSize(map));
      return Status.OK;
    },

    proxy_continue_stream(type: number) {
      if (type === StreamType.UPSTREAM) return Status.UNIMPLEMENTED;
      if (type < 0 || type > StreamType.UPSTREAM) return Status.BAD_ARGUMENT;
      const stream = streamOf(vm)?.stream;
      if (stream !== undefined && type !== StreamType.DOWNSTREAM) {
        // Envoy drops its request-side pointers right away, whichever direction is continued.
        stream.requestHeadersAttached = false;
        stream.requestBodyAttached = false;
        vm.deferAfterCall(() => stream.driver.continueStream(type));
      }
      return Status.OK;
    },
    proxy_close_stream(type: number) {
      if (type < 0 || type > StreamType.UPSTREAM) return Status.BAD_ARGUMENT;
      const stream = streamOf(vm)?.stream;
      if (stream !== undefined && (type === StreamType.HTTP_REQUEST || type === StreamType.HTTP_RESPONSE)) {
        vm.deferAfterCall(() => stream.driver.closeStream(type));
      }
      return Status.OK;
    },
    proxy_send_local_response(
      status: number,
      detailsPtr: number,
      detailsLen: number,
      bodyPtr: number,
      bodyLen: number,
      headersPtr: number,
      headersLen: number,
      grpcStatus: number,
    ) {
      const stream = streamOf(vm)?.stream;
      // Envoy replaces whitespace in details (they end up in access logs as one token).
      const details = vm.string(detailsPtr, detailsLen).replace(/\s/g, "_");
      const body = vm.string(bodyPtr, bodyLen);
      // cpp-host turns malformed pairs into an empty list rather than an error.
      const headers = (deserializeHeaderMap(vm.view(headersPtr, headersLen)) ?? []).map(
        ([k, v]): [string, string] => [k.toLowerCase(), v],
      );
      if (stream === undefined) return Status.OK;
      const reply: LocalReply = {
        status: status >>> 0,
        details,
        body,
        headers,
        grpcStatus: grpcStatus >= 0 && grpcStatus <= 16 ? grpcStatus : -1,
      };
      stream.localReplyRequested = true;
      vm.deferAfterCall(() => stream.driver.localReply(reply));
      return Status.OK;
    },
    proxy_get_status(codePtr: number, msgPtrPtr: number, msgSizePtr: number) {
      vm.writeU32(codePtr, vm.status.code);
      vm.copyOut(encoder.encode(vm.status.message), msgPtrPtr, msgSizePtr);
      return Status.OK;
    },

    proxy_http_call(
      upstreamPtr: number,
      upstreamLen: number,
      headersPtr: number,
      headersLen: number,
      bodyPtr: number,
      bodyLen: number,
      trailersPtr: number,
      trailersLen: number,
      timeoutMs: number,
      tokenPtr: number,
    ) {
      const cluster = vm.string(upstreamPtr, upstreamLen);
      const headers = deserializeHeaderMap(vm.view(headersPtr, headersLen));
      const body = vm.copy(bodyPtr, bodyLen);
      vm.view(trailersPtr, trailersLen);
      const target = runtime.clusters.get(cluster);
      if (target === undefined || headers === undefined || timeoutMs < 0) return Status.BAD_ARGUMENT;
      const lower = headers.map(([k, v]): [string, string] => [k.toLowerCase(), v]);
      const has = (k: string) => lower.some(([key]) => key === k);
      // Envoy checks Path(), Method() and Host(); Host() is the :authority pseudo-header.
      if (!has(":method") || !has(":path") || !has(":authority")) return Status.BAD_ARGUMENT;
      const root = rootOf(vm);
      const token = root.nextHttpToken++;
      vm.writeU32(tokenPtr, token);
      const handle = startHttpCall(runtime.connections, target, lower, body, timeoutMs, runtime.clock, (outcome) => {
        if (root.httpCalls.get(token) === undefined || vm.failed || runtime.closed) return;
        root.httpCalls.delete(token);
        if (outcome.ok) {
          const r = outcome.response;
          vm.status = { code: Status.OK, message: "" };
          vm.callInScope(root, { httpCallResponse: r }, "proxy_on_http_call_response", root.id, token, r.headers.length, r.body.length, r.trailers.length);
        } else {
          vm.status = { code: Status.BROKEN_CONNECTION, message: outcome.reason };
          vm.callIn(root, "proxy_on_http_call_response", root.id, token, 0, 0, 0);
        }
      });
      root.httpCalls.set(token, handle);
      return Status.OK;
    },

    proxy_grpc_call(
      upstreamPtr: number,
      upstreamLen: number,
      servicePtr: number,
      serviceLen: number,
      methodPtr: number,
      methodLen: number,
      metadataPtr: number,
      metadataLen: number,
      msgPtr: number,
      msgLen: number,
      timeoutMs: number,
      tokenPtr: number,
    ) {
      const message = vm.copy(msgPtr, msgLen);
      const opened = openGrpcFromVm(false, upstreamPtr, upstreamLen, servicePtr, serviceLen, methodPtr, methodLen, metadataPtr, metadataLen, tokenPtr, timeoutMs >>> 0);
      if (typeof opened === "number") return opened;
      opened.outbound.send(message, true);
      return Status.OK;
    },
    proxy_grpc_stream(
      upstreamPtr: number,
      upstreamLen: number,
      servicePtr: number,
      serviceLen: number,
      methodPtr: number,
      methodLen: number,
      metadataPtr: number,
      metadataLen: number,
      tokenPtr: number,
    ) {
      const opened = openGrpcFromVm(true, upstreamPtr, upstreamLen, servicePtr, serviceLen, methodPtr, methodLen, metadataPtr, metadataLen, tokenPtr);
      return typeof opened === "number" ? opened : Status.OK;
    },
    proxy_grpc_send(token: number, msgPtr: number, msgLen: number, endStream: number) {
      if ((token & 1) === 1) return Status.BAD_ARGUMENT;
      const call = rootOf(vm).grpcCalls.get(token >>> 0);
      if (call === undefined) return Status.NOT_FOUND;
      call.outbound.send(vm.copy(msgPtr, msgLen), endStream !== 0);
      return Status.OK;
    },
    proxy_grpc_cancel(token: number) {
      const root = rootOf(vm);
      const call = root.grpcCalls.get(token >>> 0);
      if (call === undefined) return Status.NOT_FOUND;
      root.grpcCalls.delete(token >>> 0);
      call.outbound.cancel();
      return Status.OK;
    },
    proxy_grpc_close(token: number) {
      const root = rootOf(vm);
      const call = root.grpcCalls.get(token >>> 0);
      if (call === undefined) return Status.NOT_FOUND;
      if (call.isStream) {
        call.outbound.closeSend();
        if (call.remoteClosed) root.grpcCalls.delete(token >>> 0);
        else call.localClosed = true;
      } else {
        root.grpcCalls.delete(token >>> 0);
        call.outbound.cancel();
      }
      return Status.OK;
    },

    proxy_set_shared_data(keyPtr: number, keyLen: number, valuePtr: number, valueLen: number, cas: number) {
      const key = Buffer.from(vm.view(keyPtr, keyLen)).toString("latin1");
      return store().setRaw(key, vm.copy(valuePtr, valueLen), cas >>> 0);
    },
    proxy_get_shared_data(keyPtr: number, keyLen: number, ptrPtr: number, sizePtr: number, casPtr: number) {
      const key = vm.at(keyPtr, keyLen);
      const entry = store().getByBytes(vm.bytes(), key, key + (keyLen >>> 0));
      if (entry === undefined) return Status.NOT_FOUND;
      vm.copyOut(entry.value, ptrPtr, sizePtr);
      vm.writeU32(casPtr, entry.cas);
      vm.sharedDataBytesRead += entry.value.length;
      return Status.OK;
    },

    proxy_register_shared_queue(namePtr: number, nameLen: number, tokenPtr: number) {
      const name = vm.string(namePtr, nameLen);
      const root = rootOf(vm);
      const id = runtime.queues.register(vm.plugin.vmId, name, {
        queueReady: (queueId) => vm.callIn(root, "proxy_on_queue_ready", root.id, queueId),
        alive: () => !vm.failed && !runtime.closed && vm.rootState !== "deleted",
      });
      vm.writeU32(tokenPtr, id);
      return Status.OK;
    },
    proxy_resolve_shared_queue(vmIdPtr: number, vmIdLen: number, namePtr: number, nameLen: number, tokenPtr: number) {
      const vmIdStart = vm.at(vmIdPtr, vmIdLen);
      const vmIdEnd = vmIdStart + (vmIdLen >>> 0);
      const nameStart = vm.at(namePtr, nameLen);
      const nameEnd = nameStart + (nameLen >>> 0);
      const memory = vm.bytes();
      // ASCII bytes are their own UTF-8 text, so the byte lookup finds exactly what the string one would;
      // other bytes are decoded as before (invalid sequences then match as U+FFFD).
      const id =
        isAscii(memory, vmIdStart, vmIdEnd) && isAscii(memory, nameStart, nameEnd)
          ? runtime.queues.resolveBytes(memory, vmIdStart, vmIdEnd, nameStart, nameEnd)
          : runtime.queues.resolve(vm.string(vmIdPtr, vmIdLen), vm.string(namePtr, nameLen));
      if (id === undefined) return Status.NOT_FOUND;
      vm.writeU32(tokenPtr, id);
      return Status.OK;
    },
    proxy_enqueue_shared_queue(token: number, valuePtr: number, valueLen: number) {
      return runtime.queues.enqueue(token >>> 0, vm.copy(valuePtr, valueLen)) ? Status.OK : Status.NOT_FOUND;
    },
    proxy_dequeue_shared_queue(token: number, ptrPtr: number, sizePtr: number) {
      const item = runtime.queues.dequeue(token >>> 0);
      if (item === undefined) return Status.NOT_FOUND;
      if (item === null) return Status.EMPTY;
      vm.copyOut(item, ptrPtr, sizePtr);
      return Status.OK;
    },

    proxy_define_metric(type: number, namePtr: number, nameLen: number, idPtr: number) {
      const kind = metricKind(type);
      if (kind === undefined) return Status.BAD_ARGUMENT;
      const name = vm.string(namePtr, nameLen);
      const stat = runtime.metrics.define(name, kind);
      // Like Envoy: ids carry the type in their low 2 bits (the first counter is id 0) and every
      // define hands out a new id for the same stat.
      const id = ((vm.nextMetricIndex++ << 2) | type) >>> 0;
      vm.metricIds.set(id, { name, kind, stat });
      vm.writeU32(idPtr, id);
      return Status.OK;
    },
    proxy_increment_metric(id: number, delta: bigint) {
      const type = id & 3;
      if (type === 2 || type === 3) return Status.BAD_ARGUMENT;
      const m = vm.metricIds.get(id >>> 0);
      if (m === undefined) return Status.NOT_FOUND;
      if (m.kind === "counter" && delta <= 0n) return Status.BAD_ARGUMENT;
      m.stat.value += Number(delta);
      return Status.OK;
    },
    proxy_record_metric(id: number, value: bigint) {
      const m = vm.metricIds.get(id >>> 0);
      if (m === undefined) return Status.NOT_FOUND;
      const stat = m.stat;
      const v = Number(BigInt.asUintN(64, value));
      if (stat.type === "counter") stat.value += v;
      else if (stat.type === "gauge") stat.value = v;
      else {
        stat.value += v;
        stat.samples!.push(v);
      }
      return Status.OK;
    },
    proxy_get_metric(id: number, out: number) {
      const type = id & 3;
      if (type === 2 || type === 3) return Status.BAD_ARGUMENT;
      const m = vm.metricIds.get(id >>> 0);
      if (m === undefined) return Status.NOT_FOUND;
      vm.writeU64(out, BigInt(Math.trunc(m.stat.value)));
      return Status.OK;
    },

    proxy_get_property(pathPtr: number, pathLen: number, ptrPtr: number, sizePtr: number) {
      const value = propertyValue(vm, vm.string(pathPtr, pathLen));
      if (value === undefined) return Status.NOT_FOUND;
      vm.copyOut(value, ptrPtr, sizePtr);
      return Status.OK;
    },
    proxy_set_property(pathPtr: number, pathLen: number, valuePtr: number, valueLen: number) {
      const path = vm.string(pathPtr, pathLen);
      const value = vm.copy(valuePtr, valueLen);
      const stream = streamOf(vm);
      // Envoy stores properties in the stream's filter state; a root context has none.
      if (stream === undefined) return Status.NOT_FOUND;
      stream.stream.properties.set(path, value);
      return Status.OK;
    },
    proxy_set_effective_context(contextId: number) {
      const ctx = vm.contexts.get(contextId >>> 0);
      if (ctx === undefined) return Status.BAD_ARGUMENT;
      vm.effective = ctx;
      return Status.OK;
    },
    proxy_done() {
      // cpp-host finds the pending root by the calling context's plugin: with one plugin per VM, any context.
      return vm.done() ? Status.OK : Status.NOT_FOUND;
    },
    proxy_call_foreign_function(namePtr: number, nameLen: number, argsPtr: number, argsLen: number) {
      vm.view(namePtr, nameLen);
      vm.view(argsPtr, argsLen);
      return Status.NOT_FOUND;
    },
    pthread_equal(a: number, b: number) {
      return a === b ? 1 : 0;
    },
    emscripten_notify_memory_growth() {},

    // ABI 0.1.0 only.
    proxy_get_configuration(ptrPtr: number, sizePtr: number) {
      vm.copyOut(vm.plugin.configuration, ptrPtr, sizePtr);
      return Status.OK;
    },
    proxy_continue_request() {
      return fns["proxy_continue_stream"]!(StreamType.HTTP_REQUEST as never) as number;
    },
    proxy_continue_response() {
      return fns["proxy_continue_stream"]!(StreamType.HTTP_RESPONSE as never) as number;
    },
    proxy_clear_route_cache() {
      return Status.OK;
    },
  };
  const wrapped: Record<string, HostFn> = {};
  const arities = envImportTypes(vm.abi);
  for (const [name, fn] of Object.entries(fns)) {
    wrapped[name] = countAndGuard(vm, fn as AnyHostFn, arities.get(name)?.params.length ?? fn.length);
  }
  return wrapped;
}

type AnyHostFn = (...args: Array<number | bigint>) => number | void;
type N = number;

/** INVALID_MEMORY_ACCESS for a pointer outside linear memory; anything else is a host bug and propagates. */
function memoryFault(err: unknown): number {
  if (err instanceof MemoryAccessError) return Status.INVALID_MEMORY_ACCESS;
  throw err;
}

/**
 * Counts host calls and turns out-of-bounds pointers into INVALID_MEMORY_ACCESS instead of a trap. The
 * wrapper takes exactly the import's parameters: V8 calls a JavaScript import with a matching parameter
 * count directly, and one taking more parameters through an arguments adaptor, which cost more than many
 * of the host calls themselves.
 */
export function countAndGuard(vm: WasmVm, fn: AnyHostFn, arity: number): HostFn {
  const f = fn as (...args: N[]) => number | void;
  let wrapper: (...args: N[]) => number | void;
  switch (arity) {
    case 0: wrapper = () => { vm.hostCallCount++; try { return f(); } catch (err) { return memoryFault(err); } }; break;
    case 1: wrapper = (a: N) => { vm.hostCallCount++; try { return f(a); } catch (err) { return memoryFault(err); } }; break;
    case 2: wrapper = (a: N, b: N) => { vm.hostCallCount++; try { return f(a, b); } catch (err) { return memoryFault(err); } }; break;
    case 3: wrapper = (a: N, b: N, c: N) => { vm.hostCallCount++; try { return f(a, b, c); } catch (err) { return memoryFault(err); } }; break;
    case 4: wrapper = (a: N, b: N, c: N, d: N) => { vm.hostCallCount++; try { return f(a, b, c, d); } catch (err) { return memoryFault(err); } }; break;
    case 5: wrapper = (a: N, b: N, c: N, d: N, e: N) => { vm.hostCallCount++; try { return f(a, b, c, d, e); } catch (err) { return memoryFault(err); } }; break;
    default:
      wrapper = (a: N, b: N, c: N, d: N, e: N, g: N, h: N, i: N, j: N, k: N, l: N, m: N) => {
        vm.hostCallCount++;
        try {
          return f(a, b, c, d, e, g, h, i, j, k, l, m);
        } catch (err) {
          return memoryFault(err);
        }
      };
  }
  return wrapper as HostFn;
}
