// Drives one HTTP stream through a worker VM in Envoy's order, honouring PAUSE, deferred
// continue / local reply, and FAIL_CLOSED when the VM has failed.
import { Action, LogLevel, StreamType } from "./abi.ts";
import type { HeaderList } from "./headerMap.ts";
import { headerValue } from "./httpCall.ts";
import { HttpStreamState, type LocalReply, lowerCaseKeys, type StreamDriver } from "./httpStream.ts";
import { encodeLocalReply } from "./localReplyEncoding.ts";
import type { StreamContext, WasmVm } from "./vm.ts";

export interface HttpRequestSpec {
  headers: HeaderList;
  body?: Uint8Array | string;
  /** Worker index; default round-robin. */
  worker?: number;
  /** What the upstream answers; default 200 with no headers and no body. */
  upstream?: { status: number; headers?: HeaderList; body?: string };
  /** How long a paused stream may wait before the host gives up (504 "host_timeout"); default 5000. */
  timeoutMs?: number;
}

export type HttpResult =
  | {
      kind: "continue";
      upstreamHeaders: HeaderList;
      responseStatus: number;
      responseHeaders: HeaderList;
      hostCalls: number;
    }
  | {
      kind: "localReply";
      /** As passed to proxy_send_local_response (or the host's own 503 / 504). */
      status: number;
      body: string;
      /** The plugin's additional headers, as passed. */
      headers: HeaderList;
      details: string;
      grpcStatus: number;
      hostCalls: number;
      /** The response as Envoy would send it, after the filter's own response callbacks saw it. */
      responseHeaders: HeaderList;
      responseBody: string;
    };

type Phase = "requestHeaders" | "requestBody" | "upstream" | "responseHeaders" | "responseBody" | "complete";

export const FAIL_STREAM_DETAILS = "wasm_fail_stream";
export const HOST_TIMEOUT_DETAILS = "host_timeout";
export const CLOSE_STREAM_DETAILS = "wasm_close_stream";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A reply the host itself produces (VM failure, timeout, reset), never seen by the plugin. */
export function hostReply(status: number, details: string, grpcStatus = -1): HttpResult {
  return {
    kind: "localReply",
    status,
    body: "",
    headers: [],
    details,
    grpcStatus,
    hostCalls: 0,
    responseHeaders: status === 0 ? [] : [[":status", String(status)]],
    responseBody: "",
  };
}

export class StreamRun implements StreamDriver {
  result: HttpResult | undefined;
  private phase: Phase = "requestHeaders";
  private waitingFor: number | null = null;
  private inCallType: number | null = null;
  private reply: LocalReply | undefined;
  /** The local reply became the response and is going through the filter's response callbacks. */
  private replyInResponse = false;
  private ctx: StreamContext | undefined;
  private upstreamHeaders: HeaderList = [];
  private startHostCalls = 0;
  private timeout: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly vm: WasmVm,
    private readonly spec: HttpRequestSpec,
    private readonly onFinish: (result: HttpResult) => void,
    /** FAIL_OPEN: a failed VM is skipped (its callbacks become no-ops) instead of answering 503. */
    private readonly failOpen = false,
  ) {}

  get paused(): boolean {
    return this.result === undefined && this.waitingFor !== null;
  }

  start(): void {
    const vm = this.vm;
    this.startHostCalls = vm.hostCallCount;
    if (vm.failed && !this.failOpen) {
      this.end(hostReply(503, FAIL_STREAM_DETAILS, 14));
      return;
    }
    const body = typeof this.spec.body === "string" ? encoder.encode(this.spec.body) : (this.spec.body ?? new Uint8Array(0));
    const state = new HttpStreamState(lowerCaseKeys(this.spec.headers), body, this);
    const ctx: StreamContext = { kind: "stream", id: vm.allocContextId(), root: vm.root, stream: state };
    this.ctx = ctx;
    vm.contexts.set(ctx.id, ctx);
    vm.callIn(ctx, "proxy_on_context_create", ctx.id, vm.root.id);
    this.advance();
  }

  /** Ends a stream that is still running, with done/log/delete (used by requestSync, timeouts, close). */
  abandon(result: HttpResult): void {
    if (this.result !== undefined) return;
    this.waitingFor = null;
    this.end(result);
  }

  continueStream(streamType: number): void {
    if (this.result !== undefined) return;
    if (this.waitingFor === streamType) {
      this.waitingFor = null;
      this.advance();
    } else if (this.inCallType === streamType && this.reply === undefined) {
      // Envoy runs continueDecoding/Encoding before the callback's result is applied: it asserts in
      // debug builds and the stream then stays stopped. Say so, and behave the same way.
      this.vm.log(
        LogLevel.warn,
        `host: proxy_continue_stream(${streamType}) on stream ${this.ctx?.id} from inside its own callback is ignored; return CONTINUE instead`,
      );
    }
  }

  localReply(reply: LocalReply): void {
    if (this.result !== undefined || this.reply !== undefined) return;
    this.reply = reply;
    if (this.waitingFor !== null) {
      this.waitingFor = null;
      this.advance();
    }
  }

  closeStream(_streamType: number): void {
    if (this.result !== undefined) return;
    if (this.running) {
      this.reply ??= { status: 0, details: CLOSE_STREAM_DETAILS, body: "", headers: [], grpcStatus: -1 };
      return;
    }
    this.abandon(hostReply(0, CLOSE_STREAM_DETAILS));
  }

  private advance(): void {
    if (this.running) return;
    this.running = true;
    try {
      while (this.result === undefined) {
        if (this.vm.failed && !this.failOpen) return this.end(hostReply(503, FAIL_STREAM_DETAILS, 14));
        if (this.reply !== undefined && !this.replyInResponse) {
          if (this.reply.details === CLOSE_STREAM_DETAILS && this.reply.status === 0) return this.end(hostReply(0, CLOSE_STREAM_DETAILS));
          this.applyLocalReply(this.reply);
          if (this.result !== undefined) return;
        }
        if (this.waitingFor !== null) return;
        this.step();
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Before the response started, Envoy sends a local reply through the whole encoder chain, this
   * filter included (sendLocalReplyViaFilterChain); once it started, directly to the client.
   */
  private applyLocalReply(reply: LocalReply): void {
    const s = this.ctx!.stream;
    const encoded = encodeLocalReply(reply, s.requestHeaders);
    this.waitingFor = null;
    if (this.phase === "requestHeaders" || this.phase === "requestBody" || this.phase === "upstream") {
      this.replyInResponse = true;
      s.responseHeaders.length = 0;
      s.responseHeaders.push(...encoded.headers);
      s.responseBody = encoded.body;
      this.phase = "responseHeaders";
      return;
    }
    this.end({
      kind: "localReply",
      ...reply,
      hostCalls: 0,
      responseHeaders: encoded.headers,
      responseBody: decoder.decode(encoded.body),
    });
  }

  private step(): void {
    const s = this.ctx!.stream;
    switch (this.phase) {
      case "requestHeaders": {
        const hasBody = s.requestBody.length > 0;
        s.requestHeadersAttached = true;
        const action = this.callStream(StreamType.HTTP_REQUEST, "proxy_on_request_headers", s.requestHeaders.length, hasBody ? 0 : 1);
        this.phase = hasBody ? "requestBody" : "upstream";
        if (!this.pauseIf(action, StreamType.HTTP_REQUEST, true)) s.requestHeadersAttached = false;
        return;
      }
      case "requestBody": {
        s.requestBodyAttached = true;
        const action = this.callStream(StreamType.HTTP_REQUEST, "proxy_on_request_body", s.requestBody.length, 1);
        this.phase = "upstream";
        if (!this.pauseIf(action, StreamType.HTTP_REQUEST, false)) s.requestBodyAttached = false;
        return;
      }
      case "upstream": {
        s.requestHeadersAttached = false;
        s.requestBodyAttached = false;
        this.upstreamHeaders = s.requestHeaders.map(([k, v]): [string, string] => [k, v]);
        const upstream = this.spec.upstream ?? { status: 200 };
        s.responseHeaders.length = 0;
        s.responseHeaders.push([":status", String(upstream.status)], ...lowerCaseKeys(upstream.headers ?? []));
        s.responseBody = encoder.encode(upstream.body ?? "");
        this.phase = "responseHeaders";
        return;
      }
      case "responseHeaders": {
        const hasBody = s.responseBody.length > 0;
        s.responseHeadersAttached = true;
        const action = this.callStream(StreamType.HTTP_RESPONSE, "proxy_on_response_headers", s.responseHeaders.length, hasBody ? 0 : 1);
        this.phase = hasBody ? "responseBody" : "complete";
        if (!this.pauseIf(action, StreamType.HTTP_RESPONSE, true)) s.responseHeadersAttached = false;
        return;
      }
      case "responseBody": {
        s.responseBodyAttached = true;
        const action = this.callStream(StreamType.HTTP_RESPONSE, "proxy_on_response_body", s.responseBody.length, 1);
        this.phase = "complete";
        if (!this.pauseIf(action, StreamType.HTTP_RESPONSE, false)) s.responseBodyAttached = false;
        return;
      }
      case "complete": {
        const responseHeaders = s.responseHeaders.map(([k, v]): [string, string] => [k, v]);
        if (this.replyInResponse) {
          this.end({
            kind: "localReply",
            ...this.reply!,
            hostCalls: 0,
            responseHeaders,
            responseBody: decoder.decode(s.responseBody),
          });
          return;
        }
        this.end({
          kind: "continue",
          upstreamHeaders: this.upstreamHeaders,
          responseStatus: Number(headerValue(s.responseHeaders, ":status") ?? 0),
          responseHeaders,
          hostCalls: 0,
        });
        return;
      }
    }
  }

  private callStream(type: number, fn: string, ...args: number[]): number | undefined {
    this.inCallType = type;
    try {
      return this.vm.callIn(this.ctx!, fn, this.ctx!.id, ...args);
    } finally {
      this.inCallType = null;
    }
  }

  /** Returns true when the filter holds the stream (stopped) after this callback. */
  private pauseIf(action: number | undefined, type: number, headers: boolean): boolean {
    if (this.vm.failed) return false;
    // proxy_send_local_response makes the host stop iteration whatever the plugin returned.
    if (this.reply !== undefined && !this.replyInResponse) return true;
    if (action === undefined) return false;
    // Header callbacks: 2 is ContinueAndEndStream; every other non-zero value stops iteration.
    if (action === Action.CONTINUE || (headers && action === 2)) return false;
    this.waitingFor = type;
    this.armTimeout();
    return true;
  }

  private armTimeout(): void {
    if (this.timeout !== undefined) return;
    this.timeout = setTimeout(() => {
      this.timeout = undefined;
      this.abandon(hostReply(504, HOST_TIMEOUT_DETAILS));
    }, this.spec.timeoutMs ?? 5000);
  }

  private end(result: HttpResult): void {
    if (this.result !== undefined) return;
    this.result = result;
    if (this.timeout !== undefined) clearTimeout(this.timeout);
    this.timeout = undefined;
    const ctx = this.ctx;
    if (ctx !== undefined) {
      const vm = this.vm;
      const s = ctx.stream;
      s.requestHeadersAttached = s.requestBodyAttached = s.responseHeadersAttached = s.responseBodyAttached = false;
      if (result.kind === "localReply" && !this.replyInResponse) {
        // What the access log sees for a reply that bypassed the filter's response callbacks.
        s.responseHeaders.length = 0;
        s.responseHeaders.push(...result.responseHeaders);
      }
      vm.callIn(ctx, "proxy_on_done", ctx.id);
      s.accessLogPhase = true;
      vm.callIn(ctx, "proxy_on_log", ctx.id);
      s.accessLogPhase = false;
      vm.callIn(ctx, "proxy_on_delete", ctx.id);
      vm.contexts.delete(ctx.id);
      // A trap in done/log/delete still fails the VM, but this stream's answer was already decided.
    }
    result.hostCalls = this.vm.hostCallCount - this.startHostCalls;
    this.onFinish(result);
  }
}
