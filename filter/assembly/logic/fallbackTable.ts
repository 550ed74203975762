// The static fallback in Stigg's ENTITLEMENTS_FALLBACK format (`{"feature-id": {"hasAccess": true,
// "usageLimit": 1000}}`): what the filter decides when it cannot learn the customer's entitlements in
// time. A feature without an entry gets Stigg's built-in fallback: no access, reason Unknown.
import { JsonValue } from "./json";
import { ConfigErrors, ObjectFields, fieldPath } from "./configFields";

export class FallbackEntry {
  hasAccess: bool = false;
  hasLimit: bool = false;
  usageLimit: f64 = 0;
  isUnlimited: bool = false;
}

export class FallbackTable {
  features: Map<string, FallbackEntry> = new Map<string, FallbackEntry>();

  find(featureId: string): FallbackEntry | null {
    return this.features.has(featureId) ? this.features.get(featureId) : null;
  }
}

export function readFallbackTable(value: JsonValue, path: string, errors: ConfigErrors): FallbackTable {
  const table = new FallbackTable();
  if (!value.isObject) {
    errors.add(path, "must be an object of feature id -> {hasAccess, usageLimit?}, got " + value.describe());
    return table;
  }
  for (let i = 0; i < value.keys.length && !errors.failed; i++) {
    const featureId = unchecked(value.keys[i]);
    const itemPath = fieldPath(path, featureId);
    const item = unchecked(value.items[i]);
    if (featureId.length == 0) { errors.add(path, "feature ids must not be empty"); break; }
    if (!item.isObject) { errors.add(itemPath, "must be an object, got " + item.describe()); break; }
    const fields = new ObjectFields(item, itemPath, errors);
    const entry = new FallbackEntry();
    const access = fields.take("hasAccess");
    if (access === null || !access.isBool) errors.add(fieldPath(itemPath, "hasAccess"), "required boolean");
    else entry.hasAccess = access.boolean;
    const limit = fields.take("usageLimit");
    if (limit !== null) {
      if (!limit.isNumber || limit.number < 0) errors.add(fieldPath(itemPath, "usageLimit"), "must be a number >= 0");
      else { entry.hasLimit = true; entry.usageLimit = limit.number; }
    }
    const unlimited = fields.take("isUnlimited");
    if (unlimited !== null) {
      if (!unlimited.isBool) errors.add(fieldPath(itemPath, "isUnlimited"), "must be a boolean");
      else entry.isUnlimited = unlimited.boolean;
    }
    // Accepted for compatibility with Stigg's format; the HTTP gate has no numeric or enum checks.
    fields.take("value");
    fields.take("enumValues");
    fields.rejectUnknown();
    table.features.set(featureId, entry);
  }
  return table;
}
