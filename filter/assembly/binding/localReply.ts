// Local replies: Envoy answers the downstream itself and never forwards the request. The filter must
// then return PAUSE from the callback.
import { proxy_send_local_response } from "./imports";
import { NO_GRPC_STATUS, Status } from "./constants";
import { HeaderPair, serializeHeaderMap } from "./headerMapCodec";
import { logWarn } from "./log";

export function sendLocalReply(statusCode: u32, details: string, body: string, headers: HeaderPair[]): bool {
  const detailBytes = String.UTF8.encode(details);
  const bodyBytes = String.UTF8.encode(body);
  const headerBytes = serializeHeaderMap(headers);
  const status = proxy_send_local_response(
    statusCode,
    changetype<usize>(detailBytes), <usize>detailBytes.byteLength,
    changetype<usize>(bodyBytes), <usize>bodyBytes.byteLength,
    changetype<usize>(headerBytes), <usize>headerBytes.byteLength,
    NO_GRPC_STATUS,
  );
  if (status != Status.OK) logWarn("proxy_send_local_response returned status " + status.toString());
  return status == Status.OK;
}

/** sendLocalReply with the details, body and serialized header map already in bytes. */
export function sendLocalReplyRaw(statusCode: u32, details: ArrayBuffer, body: ArrayBuffer, serializedHeaders: ArrayBuffer): bool {
  const status = proxy_send_local_response(
    statusCode,
    changetype<usize>(details), <usize>details.byteLength,
    changetype<usize>(body), <usize>body.byteLength,
    changetype<usize>(serializedHeaders), <usize>serializedHeaders.byteLength,
    NO_GRPC_STATUS,
  );
  if (status != Status.OK) logWarn("proxy_send_local_response returned status " + status.toString());
  return status == Status.OK;
}
