// The HTTP server's cap on requests in progress: over it, 503 with Retry-After at once. Probe paths are
// exempt so an overload never turns into a liveness failure and a restart.
import type { FastifyInstance } from "fastify";
import type { InflightLimiter } from "./inflightLimit.ts";

export interface HttpInflightCapOptions {
  limiter: InflightLimiter;
  exemptPaths: readonly string[];
  settingName: string;
}

export function registerHttpInflightCap(app: FastifyInstance, options: HttpInflightCapOptions): void {
  const exempt = new Set(options.exemptPaths);
  app.addHook("onRequest", (request, reply, done) => {
    // The matched route, not the raw path: the router decodes percent-escapes.
    if (exempt.has(request.routeOptions.url ?? "")) return done();
    const release = options.limiter.tryAcquire();
    if (!release) {
      void reply
        .code(503)
        .header("retry-after", "1")
        .send({ status: "OVERLOADED", reason: `${options.limiter.max} requests already in progress (${options.settingName})` });
      return;
    }
    // "close" fires for a finished response and for a client that went away alike.
    reply.raw.once("close", release);
    done();
  });
}
