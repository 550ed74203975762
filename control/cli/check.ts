// `entitlement-gate check`: asks a running control plane (or any Stigg Sidecar) one question over the
// Sidecar gRPC API on GRPC_PORT, and answers in the exit code: 0 allowed, 3 denied, 1 error, 2 usage.
import * as grpc from "@grpc/grpc-js";
import { loadSidecarPackage, sidecarServiceDefinition, type WireEntitlementOneof, type WireDecisionHead } from "../api/sidecarProto.ts";
import { CHECK_OPTIONS } from "./optionTables.ts";
import { numberOption, optionHelp, resolveOptions, stringOption, type ConfigFile } from "./options.ts";


export const EXIT_ALLOWED = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_DENIED = 3;

export interface CheckAnswer {
  allowed: boolean;
  /** Stigg's reason name (`CustomerIsArchived`), absent when allowed. */
  reason?: string;
  isFallback: boolean;
  customerId: string;
  featureId: string;
  resourceId?: string;
  requestedUsage?: number;
  /** `boolean`, `numeric`, `metered` or `enum`, when the answer carries the entitlement. */
  entitlementType?: string;
  entitlement?: unknown;
}

export function checkHelp(): string {
  return [
    "entitlement-gate check: ask a running control plane whether a customer may use a feature.",
    "",
    "Usage: entitlement-gate check --customer <id> --feature <id> [--requested-usage <n>] [--resource <id>] [--address host:port] [--json]",
    "",
    "Calls stigg.sidecar.v1.SidecarService/GetEntitlement (GetMeteredEntitlement / GetBooleanEntitlement",
    "on sidecars older than 3.56 that lack it), so it also works against Stigg's own Sidecar.",
    "",
    ...optionHelp(CHECK_OPTIONS),
    "  --config <file.yaml>  options under a `check:` section; GRPC_PORT at the top level sets the default address",
    "",
    "Exit codes: 0 allowed, 3 denied, 1 error (unreachable, timeout, bad answer), 2 invalid options.",
  ].join("\n");
}

/** ACCESS_DENIED_REASON_CUSTOMER_IS_ARCHIVED -> CustomerIsArchived (the name Stigg's SDKs and our filter use). */
export function reasonName(wire: string | number | undefined): string | undefined {
  if (wire === undefined) return undefined;
  if (typeof wire === "number") return `Unknown(${wire})`;
  const rest = wire.replace(/^ACCESS_DENIED_REASON_/, "");
  if (rest === "UNSPECIFIED") return undefined;
  return rest.toLowerCase().split("_").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
}

type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response?: unknown) => void) => void;

function call(client: grpc.Client, method: string, request: unknown, deadline: Date): Promise<WireDecisionHead & WireEntitlementOneof & { entitlement?: unknown }> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, UnaryMethod>)[method]!;
    fn.call(client, request, new grpc.Metadata(), { deadline }, (err, response) => {
      if (err) reject(err);
      else resolve(response as WireDecisionHead & WireEntitlementOneof);
    });
  });
}

function formatTable(answer: CheckAnswer): string {
  const rows: Array<[string, string]> = [
    ["decision", answer.allowed ? "ALLOWED" : "DENIED"],
    ["reason", answer.reason ?? "-"],
    ["fallback", answer.isFallback ? "yes (the control plane answered from its fallback, not live data)" : "no"],
    ["customer", answer.customerId + (answer.resourceId ? ` (resource ${answer.resourceId})` : "")],
    ["feature", answer.featureId + (answer.entitlementType ? ` (${answer.entitlementType})` : "")],
  ];
  if (answer.requestedUsage !== undefined) rows.push(["requested usage", String(answer.requestedUsage)]);
  const metered = answer.entitlementType === "metered" ? (answer.entitlement as { usage_limit?: number; current_usage?: number; is_unlimited?: boolean }) : undefined;
  if (metered) rows.push(["usage", metered.is_unlimited ? `${metered.current_usage ?? 0} (unlimited)` : `${metered.current_usage ?? 0} of ${metered.usage_limit ?? "?"}`]);
  return rows.map(([k, v]) => `${k.padEnd(16)}${v}`).join("\n");
}

export async function runCheck(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, file?: ConfigFile): Promise<number> {
  const options = resolveOptions(CHECK_OPTIONS, argv, env, file, "check");
  if (options.help) {
    process.stdout.write(checkHelp() + "\n");
    return EXIT_ALLOWED;
  }
  const customerId = stringOption(options, "--customer");
  const featureId = stringOption(options, "--feature");
  const resourceId = stringOption(options, "--resource");
  const requestedUsage = numberOption(options, "--requested-usage", 0, Number.MAX_SAFE_INTEGER, false);
  const timeoutMs = numberOption(options, "--timeout-ms", 1, 600_000) ?? 3000;
  if (!customerId) options.errors.push("--customer: required");
  if (!featureId) options.errors.push("--feature: required");
  if (options.positionals.length > 0) options.errors.push(`${JSON.stringify(options.positionals[0])}: unexpected argument`);
  const grpcPort = env.GRPC_PORT || (file?.global.get("GRPC_PORT") as string | undefined) || "80";
  const address = stringOption(options, "--address") ?? `127.0.0.1:${grpcPort}`;
  if (options.errors.length > 0 || !customerId || !featureId) {
    for (const e of options.errors) process.stderr.write(`entitlement-gate check: ${e}\n`);
    return EXIT_USAGE;
  }
  const json = options.values.get("--json") === true;

  const Client = grpc.makeGenericClientConstructor(sidecarServiceDefinition(loadSidecarPackage()), "SidecarService");
  const client = new Client(address, grpc.credentials.createInsecure());
  const deadline = new Date(Date.now() + timeoutMs);
  const head = { customer_id: customerId, feature_id: featureId, ...(resourceId ? { resource_id: resourceId } : {}) };
  try {
    let response: WireDecisionHead & WireEntitlementOneof & { entitlement?: unknown };
    try {
      response = await call(client, "GetEntitlement", { ...head, ...(requestedUsage !== undefined ? { options: { requested_usage: requestedUsage } } : {}) }, deadline);
    } catch (err) {
      if ((err as grpc.ServiceError).code !== grpc.status.UNIMPLEMENTED) throw err;
      // Sidecars before 3.56 have only the typed calls.
      response = requestedUsage !== undefined
        ? await call(client, "GetMeteredEntitlement", { ...head, options: { requested_usage: requestedUsage } }, deadline)
        : await call(client, "GetBooleanEntitlement", head, deadline);
    }
    const type = (["boolean", "numeric", "metered", "enum"] as const).find((k) => response[k] !== undefined);
    const reason = response.has_access ? undefined : reasonName(response.access_denied_reason);
    const answer: CheckAnswer = {
      allowed: response.has_access === true,
      ...(reason ? { reason } : {}),
      isFallback: response.is_fallback === true,
      customerId,
      featureId,
      ...(resourceId ? { resourceId } : {}),
      ...(requestedUsage !== undefined ? { requestedUsage } : {}),
      ...(type ? { entitlementType: type, entitlement: response[type] } : response.entitlement ? { entitlement: response.entitlement } : {}),
    };
    process.stdout.write((json ? JSON.stringify(answer) : formatTable(answer)) + "\n");
    return answer.allowed ? EXIT_ALLOWED : EXIT_DENIED;
  } catch (err) {
    const e = err as grpc.ServiceError;
    const what = e.code === grpc.status.UNAVAILABLE ? `cannot reach ${address}` : e.code === grpc.status.DEADLINE_EXCEEDED ? `no answer from ${address} within ${timeoutMs} ms` : `${address}`;
    const message = `${what}: ${e.details || e.message}`;
    if (json) process.stdout.write(JSON.stringify({ error: message, code: e.code }) + "\n");
    process.stderr.write(`entitlement-gate check: ${message}\n`);
    return EXIT_ERROR;
  } finally {
    client.close();
  }
}
