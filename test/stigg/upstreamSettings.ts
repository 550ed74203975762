// The control-plane settings that make an emulator the Stigg upstream (Stigg mode).
import type { ControlPlaneSettings } from "../../control/config/settings.ts";
import type { StiggEmulator } from "./emulator.ts";

export type StiggUpstreamSettings = Required<Pick<ControlPlaneSettings, "serverApiKey" | "apiUrl" | "edgeApiUrl" | "wsUrl">>;

export function stiggUpstreamSettings(stigg: Pick<StiggEmulator, "apiKey" | "url" | "edgeUrl" | "wsUrl">): StiggUpstreamSettings {
  return { serverApiKey: stigg.apiKey, apiUrl: stigg.url, edgeApiUrl: stigg.edgeUrl, wsUrl: stigg.wsUrl };
}
