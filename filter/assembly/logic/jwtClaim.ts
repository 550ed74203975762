// The customer (or resource) id from a claim of the JWT payload that Envoy's jwt_authn forwards in a
// header (`forward_payload_header`: base64url JSON). Nested claims are named by a dot path. A value that
// is not base64url, not JSON, or has no string/number at the path reads as "no id" (null), never traps.
import { decodeBase64Url } from "./base64url";
import { JsonValue, parseJsonBytes } from "./json";

/** Payloads larger than this are not decoded: real JWT payloads are a few hundred bytes. */
export const MAX_JWT_PAYLOAD_BYTES: i32 = 64 * 1024;

export function claimFromPayloadHeader(ptr: usize, length: i32, path: string[]): string | null {
  if (length == 0 || length > MAX_JWT_PAYLOAD_BYTES) return null;
  const json = decodeBase64Url(ptr, length);
  if (json === null) return null;
  const parsed = parseJsonBytes(json);
  let value: JsonValue | null = parsed.value;
  for (let i = 0; i < path.length && value !== null; i++) value = value.get(unchecked(path[i]));
  if (value === null) return null;
  if (value.isString) return value.text;
  if (value.isNumber && Number.isFinite(value.number) && Math.floor(value.number) == value.number && Math.abs(value.number) < 9007199254740992) {
    return (<i64>value.number).toString();
  }
  return null;
}
