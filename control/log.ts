// One JSON logger for the whole control plane. Components take a child logger with their name.
import { pino, type DestinationStream, type Logger } from "pino";

export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type { Logger };

export const REDACTED = "[redacted]";

/**
 * Secret-bearing keys, at the top level and one or two levels down (settings objects, request
 * headers, errors carrying a config). Settings use camelCase, the environment upper snake case.
 */
const SECRET_KEYS = [
  "serverApiKey", "SERVER_API_KEY", "apiKey", "redisPassword", "REDIS_PASSWORD", "password",
  "authorization", "Authorization", "x-api-key", "X-API-KEY", "cookie", "set-cookie",
];
export const REDACT_PATHS: string[] = SECRET_KEYS.flatMap((key) => {
  const k = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
  const join = (prefix: string): string => (k.startsWith("[") ? `${prefix}${k}` : `${prefix}.${k}`);
  return [k.startsWith("[") ? k : key, join("*"), join("*.*"), join("*.headers"), join("*.*.headers")];
});

/** Secret values from the environment: also scrubbed from message strings, where redact paths cannot reach. */
function secretValues(env: Readonly<Record<string, string | undefined>>): string[] {
  return [env.SERVER_API_KEY, env.REDIS_PASSWORD, env.SYNC_AUTH_TOKEN, env.STATUS_ADMIN_TOKEN].filter((v): v is string => typeof v === "string" && v.length >= 4);
}

export interface LoggerOptions {
  /** Defaults to stdout. */
  destination?: DestinationStream;
  /** Where SERVER_API_KEY / REDIS_PASSWORD values are read from; defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** `silent` is for tests and embedding; operators choose one of LOG_LEVELS. */
export function createLogger(level: LogLevel | "silent", options: LoggerOptions = {}): Logger {
  const secrets = secretValues(options.env ?? process.env);
  const scrub = (text: string): string => secrets.reduce((out, secret) => out.split(secret).join(REDACTED), text);
  return pino(
    {
      level,
      base: { service: "entitlement-gate-control" },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      hooks: {
        logMethod(args, method) {
          if (secrets.length > 0) {
            for (let i = 0; i < args.length; i++) {
              const arg: unknown = args[i];
              if (typeof arg === "string") args[i] = scrub(arg);
              else if (arg instanceof Error && arg.message) {
                const copy = new Error(scrub(arg.message));
                copy.name = arg.name;
                if (arg.stack) copy.stack = scrub(arg.stack);
                args[i] = { err: copy };
              } else if (typeof arg === "object" && arg !== null && "err" in arg && (arg as { err: unknown }).err instanceof Error) {
                const err = (arg as { err: Error }).err;
                const copy = new Error(scrub(err.message));
                copy.name = err.name;
                if (err.stack) copy.stack = scrub(err.stack);
                args[i] = { ...(arg as object), err: copy };
              }
            }
          }
          method.apply(this, args as Parameters<typeof method>);
        },
      },
    },
    options.destination ?? pino.destination(1),
  );
}
