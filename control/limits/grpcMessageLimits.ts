// HTTP/2 and message-size bounds for a gRPC server. grpc-js answers an oversize request itself with
// RESOURCE_EXHAUSTED "Received message larger than max (<size> vs. <limit>)" before any handler runs,
// and an oversize response with RESOURCE_EXHAUSTED "Sent message larger than max".
import type * as grpc from "@grpc/grpc-js";

export interface GrpcMessageLimits {
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
  /** Concurrent streams one HTTP/2 connection may open (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
}

export function grpcLimitOptions(limits: GrpcMessageLimits): grpc.ChannelOptions {
  return {
    "grpc.max_receive_message_length": limits.maxReceiveMessageBytes,
    "grpc.max_send_message_length": limits.maxSendMessageBytes,
    "grpc.max_concurrent_streams": limits.maxConcurrentStreams,
  };
}
