// The control plane's FilterSync bearer token (SYNC_AUTH_TOKEN): the `authToken` configuration field and
// the gRPC initial metadata that carries it. The metadata is serialized once at configure time and the same
// bytes are handed to every proxy_grpc_stream / proxy_grpc_call. The token itself never goes into an error
// message or a log line.
import { ConfigErrors, ObjectFields, fieldPath } from "./configFields";
import { HeaderPair, serializeHeaderMap } from "../binding/headerMapCodec";

/** Metadata for calls without a token: Envoy and the test host read a zero-length map as no pairs. */
export const NO_METADATA = new ArrayBuffer(0);

export const TOKEN_RULE = "must be 16 to 4096 characters of A-Z a-z 0-9 - . _ ~ + / then optional = padding (the control plane's SYNC_AUTH_TOKEN rule)";

/**
 * The control plane's rule (control/security/bearerToken.ts isUsableToken): token68 characters, `=` only
 * as trailing padding, 16..4096 long. A token the control plane would refuse as a setting could never match,
 * so it is rejected here too rather than failing every call at run time.
 */
export function isUsableToken(token: string): bool {
  const n = token.length;
  if (n < 16 || n > 4096) return false;
  let end = n;
  while (end > 0 && token.charCodeAt(end - 1) == 0x3d) end--;
  if (end == 0) return false;
  for (let i = 0; i < end; i++) {
    const c = token.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
      c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e || c == 0x2b || c == 0x2f;
    if (!ok) return false;
  }
  return true;
}

/** `authorization: Bearer <token>` as a serialized header map. */
export function bearerMetadata(token: string): ArrayBuffer {
  return serializeHeaderMap([new HeaderPair("authorization", "Bearer " + token)]);
}

/**
 * Reads the optional `authToken` field of `fields` and returns its metadata; null when the field is absent
 * (the caller decides what absence means), NO_METADATA with an error when it is unusable.
 */
export function readAuthToken(fields: ObjectFields, path: string, errors: ConfigErrors): ArrayBuffer | null {
  const value = fields.take("authToken");
  if (value === null) return null;
  if (!value.isString) {
    errors.add(fieldPath(path, "authToken"), "must be a string, got " + value.describe());
    return NO_METADATA;
  }
  if (!isUsableToken(value.text)) {
    errors.add(fieldPath(path, "authToken"), TOKEN_RULE);
    return NO_METADATA;
  }
  return bearerMetadata(value.text);
}
