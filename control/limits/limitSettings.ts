// Settings for the servers' bounds: message sizes and streams per connection on both gRPC servers, the
// per-client rate of the direct check APIs, and the caps on work in progress.
import type { Parsed, SettingSpec } from "../config/settings.ts";

export interface LimitSettings {
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
  maxConcurrentStreams: number;
  /** 0 = no rate limit. */
  checkRateLimitPerSecond: number;
  /** 0 = one second's worth. */
  checkRateLimitBurst: number;
  /** 0 = no cap. */
  maxInflightUpstream: number;
  /** 0 = no cap. */
  httpMaxInflight: number;
}

const MIB = 1024 * 1024;

function whole(raw: string, min: number, max: number, unit: string): Parsed<number> {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (Number.isSafeInteger(n) && n >= min && n <= max) return { value: n };
  return { error: `${JSON.stringify(raw)} is not a whole number of ${unit} from ${min} to ${max}` };
}

function limit<K extends keyof LimitSettings>(s: SettingSpec<K>): SettingSpec {
  return s as unknown as SettingSpec;
}

export const LIMIT_SETTINGS: readonly SettingSpec[] = [
  limit({
    key: "maxReceiveMessageBytes",
    env: "MAX_RECEIVE_MESSAGE_BYTES",
    flag: "--max-receive-message-bytes",
    group: "Limits",
    help: "Largest request message either gRPC server accepts; a larger one is refused with RESOURCE_EXHAUSTED before it is decoded.",
    defaultText: "4194304 (4 MiB)",
    defaultValue: 4 * MIB,
    parse: (raw) => whole(raw, 1024, 1024 * MIB, "bytes"),
  }),
  limit({
    key: "maxSendMessageBytes",
    env: "MAX_SEND_MESSAGE_BYTES",
    flag: "--max-send-message-bytes",
    group: "Limits",
    help: "Largest response message either gRPC server sends (sync snapshot chunks are at most ~1 MiB).",
    defaultText: "67108864 (64 MiB)",
    defaultValue: 64 * MIB,
    parse: (raw) => whole(raw, 1024, 1024 * MIB, "bytes"),
  }),
  limit({
    key: "maxConcurrentStreams",
    env: "MAX_CONCURRENT_STREAMS",
    flag: "--max-concurrent-streams",
    group: "Limits",
    help: "Calls one HTTP/2 connection may have open at once on either gRPC server (advertised to clients, which queue beyond it).",
    defaultText: "1000",
    defaultValue: 1000,
    parse: (raw) => whole(raw, 1, 1_000_000, "streams"),
  }),
  limit({
    key: "checkRateLimitPerSecond",
    env: "CHECK_RATE_LIMIT_PER_SECOND",
    flag: "--check-rate-limit-per-second",
    group: "Limits",
    help: "Per client address: Sidecar entitlement reads and ext_authz Checks allowed per second; more get RESOURCE_EXHAUSTED at once. All calls relayed by one Envoy share its address. 0 = no limit.",
    defaultText: "0 (off)",
    defaultValue: 0,
    parse: (raw) => whole(raw, 0, 10_000_000, "calls per second"),
  }),
  limit({
    key: "checkRateLimitBurst",
    env: "CHECK_RATE_LIMIT_BURST",
    flag: "--check-rate-limit-burst",
    group: "Limits",
    help: "Calls a client may make at once after being idle, on top of CHECK_RATE_LIMIT_PER_SECOND. 0 = one second's worth.",
    defaultText: "0",
    defaultValue: 0,
    parse: (raw) => whole(raw, 0, 10_000_000, "calls"),
  }),
  limit({
    key: "maxInflightUpstream",
    env: "MAX_INFLIGHT_UPSTREAM",
    flag: "--max-inflight-upstream",
    group: "Limits",
    help: "Calls that may be waiting at once (on Stigg, or a usage report on its way) across the Sidecar API, ext_authz and FilterSync FetchCustomer; more get RESOURCE_EXHAUSTED at once instead of queueing. API calls answered from the cache never count, so they are answered while the cap is full. 0 = no cap.",
    defaultText: "1000",
    defaultValue: 1000,
    parse: (raw) => whole(raw, 0, 1_000_000, "calls"),
  }),
  limit({
    key: "httpMaxInflight",
    env: "HTTP_MAX_INFLIGHT",
    flag: "--http-max-inflight",
    group: "Limits",
    help: "HTTP requests in progress at once (probes excepted); more get 503 with Retry-After. 0 = no cap.",
    defaultText: "256",
    defaultValue: 256,
    parse: (raw) => whole(raw, 0, 1_000_000, "requests"),
  }),
];
