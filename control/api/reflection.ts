// gRPC server reflection (grpc.reflection.v1 and v1alpha, served by the maintained
// @grpc/reflection package) over protoc-like descriptors of every API on the port, so grpcurl and
// SDK generators see Stigg's schema exactly, proto3 `optional` included.
import type * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { DescriptorBuilder, loadRoot } from "./fileDescriptors.ts";

export interface ProtoSource {
  files: readonly string[];
  includeDirs: readonly string[];
}

/** The registrations (v1 and v1alpha) to add to the server. */
export function reflectionRegistrations(sources: readonly ProtoSource[]): { definition: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation }[] {
  const encoded = new Map<string, Uint8Array>();
  for (const source of sources) {
    const built = new DescriptorBuilder(source.includeDirs).build(loadRoot(source.files, source.includeDirs));
    for (const [name, bytes] of built) if (!encoded.has(name)) encoded.set(name, bytes);
  }
  // @grpc/reflection reads `fileDescriptorProtos` of every entry of a package definition.
  const pkg = Object.fromEntries([...encoded].map(([name, bytes]) => [name, { fileDescriptorProtos: [Buffer.from(bytes)] }]));
  const service = new ReflectionService(pkg as unknown as ConstructorParameters<typeof ReflectionService>[0]);
  const out: { definition: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation }[] = [];
  service.addToServer({
    addService(definition: grpc.ServiceDefinition, handlers: grpc.UntypedServiceImplementation) {
      out.push({ definition, handlers });
    },
  } as unknown as Parameters<ReflectionService["addToServer"]>[0]);
  return out;
}
