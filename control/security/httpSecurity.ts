// The HTTP server's transport security: an optional HTTPS listener whose certificate follows its files,
// and the bearer token every admin route (under /admin/) requires.
import type { SecureContextOptions, Server as TlsServer } from "node:tls";
import type { Server as HttpsServer } from "node:https";
import Fastify, { type FastifyHttpsOptions, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from "fastify";
import type { BearerToken } from "./bearerToken.ts";
import type { CertificatePem, ReloadingCertificates } from "./certificateFiles.ts";

function contextOptions(pem: CertificatePem): SecureContextOptions {
  return { cert: pem.cert, key: pem.key, ...(pem.ca ? { ca: pem.ca } : {}) };
}

/**
 * A fastify instance on plain HTTP, or on HTTPS (mTLS with a client CA) when `tls` is given. New
 * connections get the certificate current when they arrive; open ones keep theirs.
 */
export function createHttpApp(options: FastifyServerOptions, tls: ReloadingCertificates | undefined): FastifyInstance {
  if (!tls) return Fastify(options);
  const https = { ...contextOptions(tls.current()), requestCert: tls.mutualTls, rejectUnauthorized: tls.mutualTls };
  // Fastify's types split on the server kind; everything this project registers works on either.
  const app = Fastify({ ...(options as FastifyHttpsOptions<HttpsServer>), https }) as unknown as FastifyInstance;
  const unsubscribe = tls.onChange((pem) => (app.server as unknown as TlsServer).setSecureContext(contextOptions(pem)));
  app.addHook("onClose", (_instance, done) => {
    unsubscribe();
    done();
  });
  return app;
}

/**
 * Judged on the route the router matched as well as on the raw path: the router decodes percent-escapes
 * (`/%61dmin/x` reaches `/admin/x`), so a check on the raw path alone can be walked around.
 */
function isAdminRequest(request: FastifyRequest, prefixes: readonly string[]): boolean {
  const raw = request.url.split("?", 1)[0] ?? "";
  const route = request.routeOptions.url ?? "";
  return prefixes.some((p) => raw.startsWith(p) || route.startsWith(p));
}

export interface AdminAuthOptions {
  token: BearerToken;
  /** Every path starting with one of these needs the token (default-deny for the admin namespace). */
  pathPrefixes: readonly string[];
  /** The setting holding the token, named in the refusal. */
  settingName: string;
}

/** 401 with `WWW-Authenticate: Bearer` for an admin path without `authorization: Bearer <token>`. */
export function registerAdminAuth(app: FastifyInstance, options: AdminAuthOptions): void {
  app.addHook("onRequest", (request, reply, done) => {
    if (!isAdminRequest(request, options.pathPrefixes) || options.token.accepts(request.headers.authorization)) return done();
    void reply
      .code(401)
      .header("www-authenticate", 'Bearer realm="entitlement-gate admin"')
      .send({ status: "UNAUTHORIZED", reason: `admin endpoints need authorization: Bearer <${options.settingName}>` });
  });
}

/** Without a token the admin namespace is closed to everyone: an unset token never means "open". */
export function registerClosedAdmin(app: FastifyInstance, options: { pathPrefixes: readonly string[]; settingName: string }): void {
  app.addHook("onRequest", (request, reply, done) => {
    if (!isAdminRequest(request, options.pathPrefixes)) return done();
    void reply.code(403).send({ status: "FORBIDDEN", reason: `admin endpoints are off (${options.settingName} is not set)` });
  });
}
