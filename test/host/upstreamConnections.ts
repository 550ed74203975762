// Loopback connections the host opens for proxy_http_call and proxy_grpc_*: one HTTP/2 session per
// cluster address (reused like an Envoy connection pool) and plain HTTP/1.1 requests, all closed by close().
import http2 from "node:http2";
import http from "node:http";

export interface ClusterTarget {
  host: string;
  port: number;
  /** Default true. gRPC always uses HTTP/2. */
  http2?: boolean;
}

export class UpstreamConnections {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private readonly http1Requests = new Set<http.ClientRequest>();
  private closed = false;

  session(target: ClusterTarget): http2.ClientHttp2Session {
    if (this.closed) throw new Error("host is closed");
    const key = `${target.host}:${target.port}`;
    const existing = this.sessions.get(key);
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing;
    const host = target.host.includes(":") ? `[${target.host}]` : target.host;
    const session = http2.connect(`http://${host}:${target.port}`);
    // Errors reach the streams opened on the session; this listener only keeps them from being fatal.
    session.on("error", () => undefined);
    session.on("close", () => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    });
    session.on("goaway", () => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    });
    this.sessions.set(key, session);
    return session;
  }

  http1Request(target: ClusterTarget, options: http.RequestOptions): http.ClientRequest {
    if (this.closed) throw new Error("host is closed");
    const req = http.request({ ...options, host: target.host, port: target.port, agent: false });
    this.http1Requests.add(req);
    req.on("close", () => this.http1Requests.delete(req));
    return req;
  }

  closeAll(): void {
    this.closed = true;
    for (const req of this.http1Requests) req.destroy();
    this.http1Requests.clear();
    for (const session of this.sessions.values()) session.destroy();
    this.sessions.clear();
  }
}
