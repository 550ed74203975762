// Writes an offline entitlements file with N customers on the benchmark plan. JSON (valid YAML 1.2)
// with one customer per line, streamed so generating 100,000 customers needs little memory.
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { FeatureEntitlement } from "../../control/model/entitlements.ts";
import { customerId, tenFeaturePlan } from "./benchCustomers.ts";

function fileEntitlement(e: FeatureEntitlement): Record<string, unknown> {
  const out: Record<string, unknown> = { featureType: e.featureType };
  if (e.meterType !== undefined) out["meterType"] = e.meterType;
  if (e.usageLimit !== undefined) out["usageLimit"] = e.usageLimit;
  if (e.hasUnlimitedUsage) out["hasUnlimitedUsage"] = true;
  if (e.featureType === "NUMBER" && e.meterType !== "None") out["currentUsage"] = e.currentUsage;
  if (e.resetPeriod !== undefined) out["resetPeriod"] = e.resetPeriod;
  if (e.usagePeriodAnchor !== undefined) out["usagePeriodAnchor"] = new Date(e.usagePeriodAnchor).toISOString();
  if (e.enumValues !== undefined) out["enumValues"] = e.enumValues;
  return out;
}

export async function writeEntitlementsFile(path: string, customers: number): Promise<number> {
  const out = createWriteStream(path);
  let written = 0;
  const write = async (text: string): Promise<void> => {
    written += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, "drain");
  };
  await write('{"customers": {\n');
  for (let i = 0; i < customers; i++) {
    const entitlements = Object.fromEntries(tenFeaturePlan(i).map((e) => [e.featureId, fileEntitlement(e)]));
    await write(`${JSON.stringify(customerId(i))}: ${JSON.stringify({ entitlements })}${i + 1 < customers ? "," : ""}\n`);
  }
  await write("}}\n");
  out.end();
  await once(out, "finish");
  return written;
}
