// JSON text building for response bodies. Strings are escaped per RFC 8259; lone surrogates become
// \u escapes so the output is always valid UTF-8.

const HEX = "0123456789abcdef";

function hex4(code: i32): string {
  return "\\u" + HEX.charAt((code >> 12) & 15) + HEX.charAt((code >> 8) & 15) + HEX.charAt((code >> 4) & 15) + HEX.charAt(code & 15);
}

/** The JSON string literal for `value`, quotes included. */
export function jsonString(value: string): string {
  let out = "\"";
  let runStart = 0;
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    let escaped: string | null = null;
    if (c == 0x22) escaped = "\\\"";
    else if (c == 0x5c) escaped = "\\\\";
    else if (c == 0x0a) escaped = "\\n";
    else if (c == 0x0d) escaped = "\\r";
    else if (c == 0x09) escaped = "\\t";
    else if (c == 0x08) escaped = "\\b";
    else if (c == 0x0c) escaped = "\\f";
    else if (c < 0x20) escaped = hex4(c);
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < n ? value.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) { i++; continue; }
      escaped = hex4(c);
    } else if (c >= 0xdc00 && c <= 0xdfff) escaped = hex4(c);
    if (escaped !== null) {
      out += value.substring(runStart, i) + escaped;
      runStart = i + 1;
    }
  }
  return out + value.substring(runStart, n) + "\"";
}

/** The body of a deny reply. */
export function denyBody(feature: string, reason: string): string {
  return "{\"error\":\"entitlement_denied\",\"feature\":" + jsonString(feature) + ",\"reason\":" + jsonString(reason) + "}";
}
