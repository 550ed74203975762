// GET / (the live status page) and GET /status.json (what it polls). The page is one static,
// self-contained HTML file; everything live comes from the JSON, sampled server-side so a page
// opened later still sees the last few minutes.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { MetricSampler } from "../../observability/metricSampler.ts";
import { RecentChanges, type ChangeFeed } from "../../observability/recentChanges.ts";
import { buildStatusReport, StoreFootprint, type FilterDetail, type StoreView, type UpstreamInfo } from "../../observability/statusReport.ts";
import { shippedFile } from "../../shippedFile.ts";
import { checkAdmin } from "./adminToken.ts";

export const STATUS_PAGE_PATH = "/";
export const STATUS_JSON_PATH = "/status.json";
export const STATUS_PAGE_FILE = "control/http/status/statusPage.html";

/** Timing knobs (tests shorten them). */
export type StatusPageTuning = Pick<StatusRouteDeps, "sampleIntervalMs" | "windowSeconds" | "pollMs" | "recentChangesLimit">;

export interface StatusRouteDeps {
  /** The control plane's metrics registry; counters are read from it by name. */
  registry: Registry;
  store: StoreView & ChangeFeed;
  filters: { readonly subscriberCount: number };
  filterDetails?: () => readonly FilterDetail[];
  readiness: () => { ready: boolean; reason?: string };
  upstream: () => UpstreamInfo;
  /** STATUS_ADMIN_TOKEN: unset = the admin view (recently changed customer ids) is off. */
  adminToken?: string;
  /** Counter sampling period; defaults to 1000. */
  sampleIntervalMs?: number;
  /** Chart window; defaults to 300 s. */
  windowSeconds?: number;
  /** How often the page polls; defaults to 2000. */
  pollMs?: number;
  /** Recently changed customers kept for the admin view; defaults to 50. */
  recentChangesLimit?: number;
}

interface StatusPage {
  html: string;
  contentSecurityPolicy: string;
}

let page: StatusPage | undefined;

/** The inline script and style are allowed by hash, so nothing else can run on the page. */
function loadPage(): StatusPage {
  if (page) return page;
  let html: string;
  try {
    html = readFileSync(shippedFile(STATUS_PAGE_FILE), "utf8");
  } catch (err) {
    // A packaging mistake must not keep the health endpoints down: say what is missing instead.
    const why = err instanceof Error ? err.message : String(err);
    html = `<!doctype html><meta charset="utf-8"><title>entitlement-gate status</title><p>The status page file (${STATUS_PAGE_FILE}) is missing from this installation: ${why.replace(/[<>&"]/g, "")}. <a href="status.json">status.json</a> still works.</p>`;
  }
  const hashes = (tag: string): string =>
    [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))]
      .map((m) => `'sha256-${createHash("sha256").update(m[1]!, "utf8").digest("base64")}'`)
      .join(" ");
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src ${hashes("script")}`,
    `style-src ${hashes("style")}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  page = { html, contentSecurityPolicy };
  return page;
}

export function registerStatusRoutes(app: FastifyInstance, deps: StatusRouteDeps): void {
  const { html, contentSecurityPolicy } = loadPage();
  const sampler = new MetricSampler({
    registry: deps.registry,
    ...(deps.sampleIntervalMs !== undefined ? { intervalMs: deps.sampleIntervalMs } : {}),
    ...(deps.windowSeconds !== undefined ? { windowSeconds: deps.windowSeconds } : {}),
  });
  const recentChanges = new RecentChanges(deps.recentChangesLimit ?? 50);
  const footprint = new StoreFootprint();
  const startedAtUnixMs = Date.now();
  const pollMs = deps.pollMs ?? 2000;

  recentChanges.follow(deps.store);
  sampler.start();
  app.addHook("onClose", async () => {
    sampler.stop();
    recentChanges.stop();
  });

  app.get(STATUS_PAGE_PATH, async (_request, reply) =>
    reply
      .header("content-type", "text/html; charset=utf-8")
      .header("cache-control", "no-store")
      .header("content-security-policy", contentSecurityPolicy)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "no-referrer")
      .send(html),
  );

  app.get(STATUS_JSON_PATH, async (request, reply) => {
    reply.header("cache-control", "no-store").header("x-content-type-options", "nosniff");
    // Refused credentials still get the public view: the same header may carry another token that a
    // gate in front of this route (an HTTP-wide admin token) already accepted.
    const access = checkAdmin(request.headers.authorization, deps.adminToken);
    const report = await buildStatusReport(
      {
        registry: deps.registry,
        store: deps.store,
        filters: deps.filters,
        ...(deps.filterDetails ? { filterDetails: deps.filterDetails } : {}),
        readiness: deps.readiness,
        upstream: deps.upstream,
        sampler,
        recentChanges,
        startedAtUnixMs,
        pollMs,
      },
      footprint,
      access === "admin",
    );
    if (access === "refused") {
      report.adminError = deps.adminToken ? "the token is not STATUS_ADMIN_TOKEN" : "the admin view is off (STATUS_ADMIN_TOKEN is not set)";
    }
    return reply.send(report);
  });
}
