// Where entries live in Redis. Our keys sit in their own namespace under the operator's prefix so
// they never collide with keys a Stigg Sidecar or Persistent Cache Service writes under the same
// prefix (`<prefix>:c_<customerId>...`, a different value format), and clear() can never reach them.
// The version segment lets a future value format start empty instead of misreading old values.

export const KEY_NAMESPACE = "entitlement-gate:v1";

/**
 * Ids are free text: `:` would make customer "a" + resource "b" and customer "a:r_b" share a key,
 * so `%` and `:` are percent-encoded. Everything else stays readable in redis-cli.
 */
export function escapeId(id: string): string {
  return id.replace(/[%:]/g, (c) => (c === "%" ? "%25" : "%3A"));
}

export function namespacePrefix(prefix: string): string {
  return `${prefix}:${KEY_NAMESPACE}:`;
}

export function entryKey(prefix: string, customerId: string, resourceId: string | undefined): string {
  const customer = `${namespacePrefix(prefix)}c_${escapeId(customerId)}`;
  // An empty resource id is the customer-level entry, as in the model's entityKey().
  return resourceId ? `${customer}:r_${escapeId(resourceId)}` : customer;
}

/** SCAN MATCH pattern for every key of ours; the prefix is taken literally, not as a glob. */
export function namespacePattern(prefix: string): string {
  return `${namespacePrefix(prefix).replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
}
