// How one gRPC server is exposed: its credentials (plaintext, TLS or mTLS, reloading), the interceptors
// every call passes through (bearer token, rate limits, caps) and the HTTP/2 and message-size options.
import * as grpc from "@grpc/grpc-js";
import type { ReloadingCertificates } from "./certificateFiles.ts";

export interface GrpcTransport {
  /** Defaults to plaintext. */
  credentials?: grpc.ServerCredentials;
  /** Applied to every call on the server, outermost first. */
  interceptors?: grpc.ServerInterceptor[];
  /** e.g. grpc.max_receive_message_length, grpc.max_concurrent_streams. */
  channelOptions?: grpc.ChannelOptions;
  /** Applied to each service definition before it is added (request decoding that never throws). */
  wrapService?: (definition: grpc.ServiceDefinition) => grpc.ServiceDefinition;
}

/**
 * TLS credentials whose certificate follows the files: grpc-js swaps the secure context of its listening
 * server when the provider reports a new pair. With a client CA, a client certificate signed by it is
 * required (the TLS handshake fails without one).
 */
export function reloadingServerCredentials(certificates: ReloadingCertificates): grpc.ServerCredentials {
  // grpc-js 1.14 declares the parameters as (ca, identity) but passes them on as (identity, ca): the first
  // argument is the identity provider, the second the CA provider or null.
  return grpc.experimental.createCertificateProviderServerCredentials(certificates, certificates.mutualTls ? certificates : null, certificates.mutualTls);
}

export function serverCredentials(certificates: ReloadingCertificates | undefined): grpc.ServerCredentials {
  return certificates ? reloadingServerCredentials(certificates) : grpc.ServerCredentials.createInsecure();
}
