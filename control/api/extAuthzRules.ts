// Route rules of the ext_authz Check: the filter's rule shape (filter/README.md), so one rule list
// serves both enforcement modes. A per-route `context_extensions` setting in Envoy wins over them.
export interface ExtAuthzRule {
  /** Starts with "/"; matched as a plain prefix of the path without query or fragment. */
  pathPrefix: string;
  feature: string;
  /** Checked against a metered feature's remaining usage; default 0. */
  requestedUsage?: number;
}

export type ParseRulesResult = { ok: true; rules: ExtAuthzRule[] } | { ok: false; errors: string[] };

const RULE_FIELDS = new Set(["pathPrefix", "feature", "requestedUsage"]);

/** Parses EXT_AUTHZ_RULES; every problem names its place (`EXT_AUTHZ_RULES[1].feature: ...`). */
export function parseExtAuthzRules(json: string, source = "EXT_AUTHZ_RULES"): ParseRulesResult {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    return { ok: false, errors: [`${source}: not valid JSON (${error instanceof Error ? error.message : String(error)})`] };
  }
  if (!Array.isArray(raw)) return { ok: false, errors: [`${source}: must be a JSON array of rules`] };
  const errors: string[] = [];
  const rules: ExtAuthzRule[] = [];
  raw.forEach((item: unknown, i) => {
    const at = `${source}[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      errors.push(`${at}: must be an object`);
      return;
    }
    const r = item as Record<string, unknown>;
    for (const key of Object.keys(r)) if (!RULE_FIELDS.has(key)) errors.push(`${at}.${key}: unknown field (expected pathPrefix, feature, requestedUsage)`);
    if (typeof r.pathPrefix !== "string" || !r.pathPrefix.startsWith("/")) errors.push(`${at}.pathPrefix: must be a string starting with "/"`);
    if (typeof r.feature !== "string" || r.feature === "") errors.push(`${at}.feature: must be a non-empty string`);
    if (r.requestedUsage !== undefined && (typeof r.requestedUsage !== "number" || !Number.isFinite(r.requestedUsage) || r.requestedUsage < 0)) {
      errors.push(`${at}.requestedUsage: must be a number ≥ 0`);
    }
    if (typeof r.pathPrefix === "string" && typeof r.feature === "string") {
      const rule: ExtAuthzRule = { pathPrefix: r.pathPrefix, feature: r.feature };
      if (typeof r.requestedUsage === "number") rule.requestedUsage = r.requestedUsage;
      rules.push(rule);
    }
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, rules };
}

/** First match wins, as in the filter. */
export function matchRule(rules: readonly ExtAuthzRule[], path: string): ExtAuthzRule | undefined {
  const end = path.search(/[?#]/);
  const bare = end < 0 ? path : path.slice(0, end);
  return rules.find((rule) => bare.startsWith(rule.pathPrefix));
}
