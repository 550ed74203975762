// Settings for transport security: TLS per server (certificate, key, optional client CA for mTLS, all
// re-read while running) and the sync API's bearer token. Every one is off by default: plaintext and no
// token, as Stigg's Sidecar and its SDKs expect. The HTTP admin token is STATUS_ADMIN_TOKEN (settings.ts).
import { readableFile } from "../config/readableFile.ts";
import type { ControlPlaneSettings, Parsed, SettingSpec } from "../config/settings.ts";
import { isUsableToken } from "./bearerToken.ts";

export interface TransportSecuritySettings {
  syncTlsCertFile?: string;
  syncTlsKeyFile?: string;
  syncTlsClientCaFile?: string;
  grpcTlsCertFile?: string;
  grpcTlsKeyFile?: string;
  grpcTlsClientCaFile?: string;
  httpTlsCertFile?: string;
  httpTlsKeyFile?: string;
  httpTlsClientCaFile?: string;
  tlsReloadIntervalMs: number;
  /** Set = every FilterSync call needs `authorization: Bearer <token>`. */
  syncAuthToken?: string;
}

function token(raw: string): Parsed<string> {
  if (isUsableToken(raw)) return { value: raw };
  return { error: "is not a usable token (16 to 4096 characters of A-Z a-z 0-9 - . _ ~ + / and trailing =; e.g. `openssl rand -base64 32`)" };
}

type TlsServer = "sync" | "grpc" | "http";

const SERVER_TEXT: Readonly<Record<TlsServer, string>> = {
  sync: "the sync gRPC server (FilterSync, SYNC_PORT)",
  grpc: "the public gRPC server (Sidecar API, ext_authz, GRPC_PORT)",
  http: "the HTTP server (HTTP_PORT)",
};

function tlsSpecs(server: TlsServer): SettingSpec[] {
  const ENV = server.toUpperCase();
  const specs: SettingSpec<keyof TransportSecuritySettings>[] = [
    {
      key: `${server}TlsCertFile`,
      env: `${ENV}_TLS_CERT_FILE`,
      flag: `--${server}-tls-cert-file`,
      group: "Transport security",
      help: `PEM certificate chain for ${SERVER_TEXT[server]}; set with ${ENV}_TLS_KEY_FILE to serve TLS. Re-read every TLS_RELOAD_INTERVAL_MS: new connections get a replaced certificate without a restart.`,
      defaultText: "unset (plaintext)",
      defaultValue: undefined,
      parse: readableFile,
    },
    {
      key: `${server}TlsKeyFile`,
      env: `${ENV}_TLS_KEY_FILE`,
      flag: `--${server}-tls-key-file`,
      group: "Transport security",
      help: `PEM private key for ${ENV}_TLS_CERT_FILE.`,
      defaultText: "unset",
      defaultValue: undefined,
      parse: readableFile,
    },
    {
      key: `${server}TlsClientCaFile`,
      env: `${ENV}_TLS_CLIENT_CA_FILE`,
      flag: `--${server}-tls-client-ca-file`,
      group: "Transport security",
      help: `PEM CA bundle; set = mutual TLS on ${SERVER_TEXT[server]}: a client must present a certificate signed by it.`,
      defaultText: "unset (no client certificate asked for)",
      defaultValue: undefined,
      parse: readableFile,
    },
  ];
  return specs as SettingSpec[];
}

export const TRANSPORT_SECURITY_SETTINGS: readonly SettingSpec[] = [
  ...tlsSpecs("sync"),
  ...tlsSpecs("grpc"),
  ...tlsSpecs("http"),
  {
    key: "tlsReloadIntervalMs",
    env: "TLS_RELOAD_INTERVAL_MS",
    flag: "--tls-reload-interval-ms",
    group: "Transport security",
    help: "How often the TLS files are re-read. A new certificate and key that fit are used for new connections; an unusable pair (a rotation half-written) is logged and the previous one kept.",
    defaultText: "10000",
    defaultValue: 10_000,
    parse(raw) {
      const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      if (Number.isSafeInteger(n) && n >= 100 && n <= 3_600_000) return { value: n };
      return { error: `${JSON.stringify(raw)} is not a whole number of milliseconds from 100 to 3600000` };
    },
  } satisfies SettingSpec<"tlsReloadIntervalMs"> as SettingSpec,
  {
    key: "syncAuthToken",
    env: "SYNC_AUTH_TOKEN",
    flag: "--sync-auth-token",
    group: "Transport security",
    help: "Shared secret the Envoy filters must send as `authorization: Bearer <token>` on every FilterSync call; others get UNAUTHENTICATED. Never logged; prefer the variable (a flag shows in the process list). Use with SYNC_TLS_* off loopback: a token over plaintext can be read on the wire.",
    defaultText: "unset (no token)",
    defaultValue: undefined,
    parse: token,
  } satisfies SettingSpec<"syncAuthToken"> as SettingSpec,
];

/** Cross-setting rules: a certificate needs its key and the other way round; a client CA needs both. */
export function transportSecurityErrors(settings: ControlPlaneSettings): string[] {
  const errors: string[] = [];
  for (const server of ["sync", "grpc", "http"] as const) {
    const ENV = server.toUpperCase();
    const cert = settings[`${server}TlsCertFile`];
    const key = settings[`${server}TlsKeyFile`];
    const ca = settings[`${server}TlsClientCaFile`];
    if ((cert === undefined) !== (key === undefined)) {
      errors.push(`${cert === undefined ? `${ENV}_TLS_KEY_FILE` : `${ENV}_TLS_CERT_FILE`}: is set without ${cert === undefined ? `${ENV}_TLS_CERT_FILE` : `${ENV}_TLS_KEY_FILE`}; TLS needs both`);
    } else if (ca !== undefined && cert === undefined) {
      errors.push(`${ENV}_TLS_CLIENT_CA_FILE: mutual TLS needs ${ENV}_TLS_CERT_FILE and ${ENV}_TLS_KEY_FILE too`);
    }
  }
  return errors;
}
