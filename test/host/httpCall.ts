// proxy_http_call carried out for real over loopback (HTTP/2 by default, HTTP/1.1 when the cluster says so).
import http2 from "node:http2";
import type { IncomingHttpHeaders } from "node:http";
import type { Clock } from "./clock.ts";
import type { HeaderList } from "./headerMap.ts";
import type { ClusterTarget, UpstreamConnections } from "./upstreamConnections.ts";

export interface HttpCallResponse {
  headers: HeaderList;
  body: Uint8Array;
  trailers: HeaderList;
}

export type HttpCallOutcome = { ok: true; response: HttpCallResponse } | { ok: false; reason: string };

export interface CallHandle {
  cancel(): void;
}

const CONNECTION_HEADERS = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"]);

export function headersToList(headers: IncomingHttpHeaders | http2.IncomingHttpHeaders): HeaderList {
  const out: HeaderList = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) out.push([k.toLowerCase(), item]);
    else out.push([k.toLowerCase(), String(v)]);
  }
  return out;
}

function rawPairs(raw: string[]): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}

export function headerValue(headers: HeaderList, key: string): string | undefined {
  for (const [k, v] of headers) if (k === key) return v;
  return undefined;
}

export function startHttpCall(
  conns: UpstreamConnections,
  target: ClusterTarget,
  headers: HeaderList,
  body: Uint8Array,
  timeoutMs: number,
  clock: Clock,
  done: (outcome: HttpCallOutcome) => void,
): CallHandle {
  let settled = false;
  let abort: () => void = () => undefined;
  const timer = timeoutMs > 0 ? clock.setTimer(timeoutMs, () => finish({ ok: false, reason: "timeout" }, true)) : undefined;
  function finish(outcome: HttpCallOutcome, cancelTransport: boolean): void {
    if (settled) return;
    settled = true;
    timer?.cancel();
    if (cancelTransport) abort();
    done(outcome);
  }

  const method = headerValue(headers, ":method") ?? "GET";
  const path = headerValue(headers, ":path") ?? "/";
  const authority = headerValue(headers, ":authority") ?? headerValue(headers, "host") ?? target.host;
  try {
    if (target.http2 ?? true) {
      const outHeaders: http2.OutgoingHttpHeaders = { ":method": method, ":path": path, ":authority": authority, ":scheme": "http" };
      for (const [k, v] of headers) {
        const key = k.toLowerCase();
        if (key.startsWith(":") || CONNECTION_HEADERS.has(key)) continue;
        const prev = outHeaders[key];
        outHeaders[key] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [String(prev), v];
      }
      if (body.length > 0) outHeaders["content-length"] = String(body.length);
      const session = conns.session(target);
      const req = session.request(outHeaders, { endStream: body.length === 0 });
      abort = () => req.close(http2.constants.NGHTTP2_CANCEL);
      let responseHeaders: HeaderList = [];
      let trailers: HeaderList = [];
      const chunks: Buffer[] = [];
      req.on("response", (h) => {
        responseHeaders = headersToList(h);
      });
      req.on("trailers", (h) => {
        trailers = headersToList(h);
      });
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => finish({ ok: true, response: { headers: responseHeaders, body: Buffer.concat(chunks), trailers } }, false));
      req.on("error", (e: Error) => finish({ ok: false, reason: e.message }, false));
      req.on("close", () => finish({ ok: false, reason: "stream closed before the response ended" }, false));
      if (body.length > 0) req.end(body);
    } else {
      const outHeaders: Record<string, string | string[]> = { host: authority };
      for (const [k, v] of headers) {
        const key = k.toLowerCase();
        if (key.startsWith(":") || CONNECTION_HEADERS.has(key)) continue;
        const prev = outHeaders[key];
        outHeaders[key] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      if (body.length > 0) outHeaders["content-length"] = String(body.length);
      const req = conns.http1Request(target, { method, path, headers: outHeaders });
      abort = () => req.destroy();
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          finish(
            {
              ok: true,
              response: {
                headers: [[":status", String(res.statusCode ?? 0)], ...rawPairs(res.rawHeaders)],
                body: Buffer.concat(chunks),
                trailers: rawPairs(res.rawTrailers),
              },
            },
            false,
          ),
        );
        res.on("error", (e: Error) => finish({ ok: false, reason: e.message }, false));
      });
      req.on("error", (e: Error) => finish({ ok: false, reason: e.message }, false));
      req.end(body.length > 0 ? body : undefined);
    }
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    queueMicrotask(() => finish({ ok: false, reason }, false));
  }
  return {
    cancel: () => {
      if (settled) return;
      settled = true;
      timer?.cancel();
      abort();
    },
  };
}
