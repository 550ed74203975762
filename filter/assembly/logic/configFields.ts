// Helpers for reading a configuration object field by field. Each field read is recorded so unknown
// fields can be reported, and every error names the field by its path (`rules[2].pathPrefix`).
import { JsonValue } from "./json";

export function fieldPath(parent: string, key: string): string {
  return parent.length == 0 ? key : parent + "." + key;
}

export function indexPath(parent: string, index: i32): string {
  return parent + "[" + index.toString() + "]";
}

/** Collects the first error; later errors are dropped so the log line names one cause. */
export class ConfigErrors {
  message: string = "";
  get failed(): bool { return this.message.length > 0; }
  add(path: string, problem: string): void {
    if (this.message.length == 0) this.message = path + ": " + problem;
  }
}

export class ObjectFields {
  private used: StaticArray<bool>;

  constructor(public object: JsonValue, public path: string, public errors: ConfigErrors) {
    this.used = new StaticArray<bool>(object.keys.length);
  }

  /** The field's value, or null when absent (JSON null counts as absent). */
  take(key: string): JsonValue | null {
    const keys = this.object.keys;
    for (let i = 0; i < keys.length; i++) {
      if (unchecked(keys[i]) == key) {
        this.used[i] = true;
        const value = unchecked(this.object.items[i]);
        return value.isNull ? null : value;
      }
    }
    return null;
  }

  string(key: string, fallback: string, required: bool = false): string {
    const value = this.take(key);
    if (value === null) {
      if (required) this.errors.add(fieldPath(this.path, key), "required");
      return fallback;
    }
    if (!value.isString) {
      this.errors.add(fieldPath(this.path, key), "must be a string, got " + value.describe());
      return fallback;
    }
    return value.text;
  }

  /** A number within [minimum, maximum]; `integer` rejects fractions. */
  number(key: string, fallback: f64, minimum: f64, maximum: f64, integer: bool, rule: string): f64 {
    const value = this.take(key);
    if (value === null) return fallback;
    const n = value.number;
    if (!value.isNumber || n < minimum || n > maximum || (integer && Math.floor(n) != n)) {
      this.errors.add(fieldPath(this.path, key), rule);
      return fallback;
    }
    return n;
  }

  /** Reports the first field nobody took. */
  rejectUnknown(): void {
    const keys = this.object.keys;
    for (let i = 0; i < keys.length; i++) {
      if (!this.used[i]) {
        // An empty key would leave the message starting with ": "; show it as the JSON it was written as.
        const key = unchecked(keys[i]);
        this.errors.add(fieldPath(this.path, key.length == 0 ? '""' : key), "unknown field");
        return;
      }
    }
  }
}
