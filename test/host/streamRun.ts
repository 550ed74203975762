// Drives one HTTP stream through a worker VM in Envoy's order, honouring PAUSE, deferred
// continue / local reply, and FAIL_CLOSED when the VM has failed.
import { Action, StreamType } from "./abi.ts";
import type { HeaderList } from "./headerMap.ts";
import { headerValue } from "./httpCall.ts";
import { HttpStreamState, type LocalReply, lowerCaseKeys, type StreamDriver } from "./httpStream.ts";
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
      status: number;
      body: string;
      headers: HeaderList;
      details: string;
      grpcStatus: number;
      hostCalls: number;
    };

type Phase = "requestHeaders" | "requestBody" | "upstream" | "responseHeaders" | "responseBody" | "complete";

export const FAIL_STREAM_DETAILS = "wasm_fail_stream";
export const HOST_TIMEOUT_DETAILS = "host_timeout";
export const CLOSE_STREAM_DETAILS = "wasm_close_stream";

const encoder = new TextEncoder();

export class StreamRun implements StreamDriver {
  result: HttpResult | undefined;
  private phase: Phase = "requestHeaders";
  private waitingFor: number | null = null;
  private inCallType: number | null = null;
  private earlyContinue = new Set<number>();
  private reply: LocalReply | undefined;
  private ctx: StreamContext | undefined;
  private upstreamHeaders: HeaderList = [];
  private startHostCalls = 0;
  private timeout: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly vm: WasmVm,
    private readonly spec: HttpRequestSpec,
    private readonly onFinish: (result: HttpResult) => void,
  ) {}

  get paused(): boolean {
    return this.result === undefined && this.waitingFor !== null;
  }

  start(): void {
    const vm = this.vm;
    this.startHostCalls = vm.hostCallCount;
    if (vm.failed) {
      this.end(this.failResult());
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

  /** Ends a stream that is still paused, running done/log/delete (used by requestSync and close). */
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
    } else if (this.inCallType === streamType) {
      this.earlyContinue.add(streamType);
    }
  }

  localReply(reply: LocalReply): void {
    if (this.result !== undefined) return;
    this.reply ??= reply;
    if (this.waitingFor !== null) {
      this.waitingFor = null;
      this.advance();
    }
  }

  closeStream(_streamType: number): void {
    this.localReply({ status: 0, details: CLOSE_STREAM_DETAILS, body: "", headers: [], grpcStatus: -1 });
  }

  private advance(): void {
    if (this.running) return;
    this.running = true;
    try {
      while (this.result === undefined) {
        if (this.vm.failed) return this.end(this.failResult());
        if (this.reply !== undefined) return this.end(this.localReplyResult(this.reply));
        if (this.waitingFor !== null) return;
        this.step();
      }
    } finally {
      this.running = false;
    }
  }

  private step(): void {
    const ctx = this.ctx!;
    const s = ctx.stream;
    switch (this.phase) {
      case "requestHeaders": {
        const hasBody = s.requestBody.length > 0;
        const action = this.callStream(StreamType.HTTP_REQUEST, "proxy_on_request_headers", s.requestHeaders.length, hasBody ? 0 : 1);
        this.phase = hasBody ? "requestBody" : "upstream";
        this.pauseIf(action, StreamType.HTTP_REQUEST, true);
        return;
      }
      case "requestBody": {
        const action = this.callStream(StreamType.HTTP_REQUEST, "proxy_on_request_body", s.requestBody.length, 1);
        this.phase = "upstream";
        this.pauseIf(action, StreamType.HTTP_REQUEST, false);
        return;
      }
      case "upstream": {
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
        const action = this.callStream(StreamType.HTTP_RESPONSE, "proxy_on_response_headers", s.responseHeaders.length, hasBody ? 0 : 1);
        this.phase = hasBody ? "responseBody" : "complete";
        this.pauseIf(action, StreamType.HTTP_RESPONSE, true);
        return;
      }
      case "responseBody": {
        const action = this.callStream(StreamType.HTTP_RESPONSE, "proxy_on_response_body", s.responseBody.length, 1);
        this.phase = "complete";
        this.pauseIf(action, StreamType.HTTP_RESPONSE, false);
        return;
      }
      case "complete":
        this.end({
          kind: "continue",
          upstreamHeaders: this.upstreamHeaders,
          responseStatus: Number(headerValue(s.responseHeaders, ":status") ?? 0),
          responseHeaders: s.responseHeaders.map(([k, v]): [string, string] => [k, v]),
          hostCalls: 0,
        });
        return;
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

  private pauseIf(action: number | undefined, type: number, headers: boolean): void {
    if (action === undefined || this.vm.failed) return;
    // Header callbacks: 2 is ContinueAndEndStream; every other non-zero value stops iteration.
    if (action === Action.CONTINUE || (headers && action === 2)) return;
    if (this.earlyContinue.delete(type)) return;
    this.waitingFor = type;
    this.armTimeout();
  }

  private armTimeout(): void {
    if (this.timeout !== undefined) return;
    this.timeout = setTimeout(() => {
      this.timeout = undefined;
      this.abandon({
        kind: "localReply",
        status: 504,
        body: "",
        headers: [],
        details: HOST_TIMEOUT_DETAILS,
        grpcStatus: -1,
        hostCalls: 0,
      });
    }, this.spec.timeoutMs ?? 5000);
  }

  private failResult(): HttpResult {
    return { kind: "localReply", status: 503, body: "", headers: [], details: FAIL_STREAM_DETAILS, grpcStatus: -1, hostCalls: 0 };
  }

  private localReplyResult(reply: LocalReply): HttpResult {
    return { kind: "localReply", ...reply, hostCalls: 0 };
  }

  private end(result: HttpResult): void {
    if (this.result !== undefined) return;
    this.result = result;
    if (this.timeout !== undefined) clearTimeout(this.timeout);
    this.timeout = undefined;
    const ctx = this.ctx;
    if (ctx !== undefined) {
      const vm = this.vm;
      vm.callIn(ctx, "proxy_on_done", ctx.id);
      vm.callIn(ctx, "proxy_on_log", ctx.id);
      vm.callIn(ctx, "proxy_on_delete", ctx.id);
      vm.contexts.delete(ctx.id);
      // A trap in done/log/delete still fails the VM, but this stream's answer was already decided.
    }
    result.hostCalls = this.vm.hostCallCount - this.startHostCalls;
    this.onFinish(result);
  }
}
