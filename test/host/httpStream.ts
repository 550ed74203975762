// Per-stream state the host functions read and write: header maps, bodies, properties, and the
// driver that turns deferred continue / local-reply actions into progress of the request.
import type { HeaderList } from "./headerMap.ts";

export interface LocalReply {
  status: number;
  details: string;
  body: string;
  headers: HeaderList;
  /** 0..16 when the plugin asked for a gRPC status, else -1. */
  grpcStatus: number;
}

export interface StreamDriver {
  continueStream(streamType: number): void;
  localReply(reply: LocalReply): void;
  closeStream(streamType: number): void;
}

export class HttpStreamState {
  requestHeaders: HeaderList;
  requestBody: Uint8Array;
  requestTrailers: HeaderList = [];
  responseHeaders: HeaderList = [];
  responseBody: Uint8Array = new Uint8Array(0);
  responseTrailers: HeaderList = [];
  readonly properties = new Map<string, Uint8Array>();
  /** Set as soon as the plugin calls proxy_send_local_response; the reply itself is deferred. */
  localReplyRequested = false;
  // Envoy only keeps a pointer to a header map or body while its callback runs, or while the filter
  // holds the stream stopped after it; a callback returning CONTINUE (or proxy_continue_stream, for
  // the request side) drops it, and later access answers BAD_ARGUMENT / an empty body.
  requestHeadersAttached = false;
  requestBodyAttached = false;
  responseHeadersAttached = false;
  responseBodyAttached = false;
  /** During proxy_on_log request and response headers are readable (not writable) again. */
  accessLogPhase = false;

  constructor(
    requestHeaders: HeaderList,
    requestBody: Uint8Array,
    readonly driver: StreamDriver,
  ) {
    this.requestHeaders = requestHeaders;
    this.requestBody = requestBody;
  }
}

export function lowerCaseKeys(headers: HeaderList): HeaderList {
  return headers.map(([k, v]) => [k.toLowerCase(), v]);
}
