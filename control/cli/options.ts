// Command options from flags, environment variables and a YAML config file, in that order of
// precedence (a flag beats its variable, which beats the file, which beats the default).
import { readFileSync } from "node:fs";
import { parse } from "yaml";

export interface OptionSpec {
  /** `--name`; the config file uses `name` (or the variable's name). */
  flag: string;
  env?: string;
  help: string;
  defaultText?: string;
  /** A switch: no value on the command line. */
  boolean?: boolean;
  /** May be given more than once (values collected in order). */
  repeatable?: boolean;
}

export type OptionValue = string | boolean | string[];

export interface ResolvedOptions {
  values: Map<string, OptionValue>;
  /** Where each value came from, for error messages: "--flag", "ENV", "file.yaml: key". */
  origins: Map<string, string>;
  positionals: string[];
  errors: string[];
  help: boolean;
}

/** Top-level keys, and the keys of the `<command>:` section, as strings (lists for repeatable options). */
export type ConfigFileValues = Map<string, OptionValue>;

export interface ConfigFile {
  path: string;
  /** Top-level scalars: settings by variable name (`SYNC_PORT`) or flag name (`sync-port`). */
  global: ConfigFileValues;
  /** `check:`, `validate:`, `envoy-config:`, `serve:` sections. */
  sections: Map<string, ConfigFileValues>;
}

function toOptionValue(value: unknown): OptionValue | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return typeof value === "boolean" ? value : String(value);
  if (Array.isArray(value) && value.every((v) => ["string", "number"].includes(typeof v))) return value.map(String);
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return undefined;
}

export function loadConfigFile(path: string): { file: ConfigFile } | { error: string } {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, "utf8"));
  } catch (err) {
    return { error: `--config ${path}: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== "object" || Array.isArray(raw)) return { error: `--config ${path}: must be a YAML mapping of settings` };
  const file: ConfigFile = { path, global: new Map(), sections: new Map() };
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (["serve", "check", "validate", "envoy-config"].includes(key) && typeof value === "object" && value !== null && !Array.isArray(value)) {
      const section: ConfigFileValues = new Map();
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const converted = toOptionValue(v);
        if (converted === undefined) return { error: `--config ${path}: ${key}.${k}: unsupported value` };
        section.set(k, converted);
      }
      file.sections.set(key, section);
      continue;
    }
    const converted = toOptionValue(value);
    if (converted === undefined) return { error: `--config ${path}: ${key}: unsupported value` };
    file.global.set(key, converted);
  }
  return { file };
}

/** Pulls `--config <file>` / `--config=<file>` out of argv. */
export function takeConfigFlag(argv: readonly string[]): { path?: string; rest: string[]; error?: string } {
  const rest: string[] = [];
  let path: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--config") {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) return { rest, error: "--config: needs a file path" };
      path = next;
      i++;
    } else if (arg.startsWith("--config=")) path = arg.slice("--config=".length);
    else rest.push(arg);
  }
  return path === undefined ? { rest } : { path, rest };
}

function fileValue(spec: OptionSpec, section: ConfigFileValues | undefined, global: ConfigFileValues | undefined): [string, OptionValue] | undefined {
  const name = spec.flag.replace(/^--/, "");
  const camel = name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
  for (const key of [name, camel, spec.env]) {
    if (key === undefined) continue;
    const value = section?.get(key);
    if (value !== undefined) return [key, value];
  }
  if (spec.env !== undefined) {
    const value = global?.get(spec.env);
    if (value !== undefined) return [spec.env, value];
  }
  return undefined;
}

export function resolveOptions(
  specs: readonly OptionSpec[],
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  file?: ConfigFile,
  command?: string,
): ResolvedOptions {
  const out: ResolvedOptions = { values: new Map(), origins: new Map(), positionals: [], errors: [], help: false };
  const byFlag = new Map(specs.map((s) => [s.flag, s]));
  const fromFlags = new Map<string, OptionValue>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") {
      out.help = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = byFlag.get(flag);
    if (!spec) {
      out.errors.push(`${flag}: unknown option (see --help)`);
      continue;
    }
    let value: string | boolean;
    if (spec.boolean) value = eq > 0 ? !["false", "0", "no"].includes(arg.slice(eq + 1).toLowerCase()) : true;
    else if (eq > 0) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        out.errors.push(`${flag}: needs a value`);
        continue;
      }
      value = next;
      i++;
    }
    if (spec.repeatable) {
      const list = (fromFlags.get(flag) as string[] | undefined) ?? [];
      list.push(String(value));
      fromFlags.set(flag, list);
    } else fromFlags.set(flag, value);
  }
  const section = command ? file?.sections.get(command) : undefined;
  for (const spec of specs) {
    const flagValue = fromFlags.get(spec.flag);
    const envValue = spec.env !== undefined ? env[spec.env] : undefined;
    if (flagValue !== undefined) {
      out.values.set(spec.flag, flagValue);
      out.origins.set(spec.flag, spec.flag);
    } else if (envValue !== undefined && envValue !== "") {
      const value: OptionValue = spec.boolean ? !["false", "0", "no", ""].includes(envValue.toLowerCase()) : spec.repeatable ? [envValue] : envValue;
      out.values.set(spec.flag, value);
      out.origins.set(spec.flag, spec.env!);
    } else {
      const found = fileValue(spec, section, file?.global);
      if (found && file) {
        let [key, value] = found;
        if (spec.boolean && typeof value === "string") value = !["false", "0", "no", ""].includes(value.toLowerCase());
        if (spec.repeatable && typeof value === "string") value = [value];
        out.values.set(spec.flag, value);
        out.origins.set(spec.flag, `${file.path}: ${command && section?.has(key) ? `${command}.` : ""}${key}`);
      }
    }
  }
  return out;
}

export function optionHelp(specs: readonly OptionSpec[]): string[] {
  const lines: string[] = [];
  for (const s of specs) {
    const head = `  ${s.flag}${s.boolean ? "" : " <value>"}${s.env ? `  (env ${s.env})` : ""}`;
    lines.push(head, `      ${s.help}`);
    if (s.defaultText) lines.push(`      default: ${s.defaultText}`);
  }
  return lines;
}

export function stringOption(options: ResolvedOptions, flag: string): string | undefined {
  const value = options.values.get(flag);
  return typeof value === "string" ? value : undefined;
}

export function numberOption(options: ResolvedOptions, flag: string, min: number, max: number, integer = true): number | undefined {
  const raw = stringOption(options, flag);
  if (raw === undefined) return undefined;
  const n = Number(raw.trim());
  if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    options.errors.push(`${options.origins.get(flag) ?? flag}: ${JSON.stringify(raw)} is not ${integer ? "a whole number" : "a number"} from ${min} to ${max}`);
    return undefined;
  }
  return n;
}
