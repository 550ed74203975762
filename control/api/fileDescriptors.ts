// FileDescriptorProtos for server reflection, built from the parsed .proto files the way protoc
// would emit them: one descriptor per source file with its real path, `dependency` filled in,
// fully-qualified type names, map entries named `<Field>Entry`, proto3 `optional` marked
// `proto3_optional` with its synthetic oneof after the real ones, and only standard options.
// (proto-loader's own descriptors merge files per package and lose proto3 optional, so a
// reflection client would see Stigg's `optional` fields as ordinary oneofs.)
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import protobuf from "protobufjs";
import descriptorExt from "protobufjs/ext/descriptor/index.js";

type Obj = Record<string, unknown>;

interface DescriptorCodec {
  fromObject(object: Obj): protobuf.Message;
  encode(message: protobuf.Message): protobuf.Writer;
  decode(bytes: Uint8Array): protobuf.Message;
  toObject(message: protobuf.Message, options?: protobuf.IConversionOptions): Obj;
}

export const FileDescriptorProto = (descriptorExt as unknown as { FileDescriptorProto: DescriptorCodec }).FileDescriptorProto;

/** protobufjs bundles these without a file name; protoc's names for them. */
const WELL_KNOWN_FILES: Readonly<Record<string, string>> = {
  Any: "any",
  Duration: "duration",
  Empty: "empty",
  FieldMask: "field_mask",
  Struct: "struct",
  Value: "struct",
  ListValue: "struct",
  NullValue: "struct",
  Timestamp: "timestamp",
  DoubleValue: "wrappers",
  FloatValue: "wrappers",
  Int64Value: "wrappers",
  UInt64Value: "wrappers",
  Int32Value: "wrappers",
  UInt32Value: "wrappers",
  BoolValue: "wrappers",
  StringValue: "wrappers",
  BytesValue: "wrappers",
};

/** protoc's options of the well-known files protobufjs bundles (its copies carry none). */
function wellKnownOptions(file: string): Obj | undefined {
  const base = /^google\/protobuf\/(\w+)\.proto$/.exec(file)?.[1];
  if (!base || base === "descriptor") return undefined;
  const camel = base.replace(/(^|_)([a-z])/g, (_m, _u: string, c: string) => c.toUpperCase());
  return {
    javaPackage: "com.google.protobuf",
    javaOuterClassname: `${camel}Proto`,
    javaMultipleFiles: true,
    goPackage: `google.golang.org/protobuf/types/known/${base.replace(/_/g, "")}pb`,
    ccEnableArenas: true,
    objcClassPrefix: "GPB",
    csharpNamespace: "Google.Protobuf.WellKnownTypes",
  };
}

/** protobufjs's bundled well-known types spell fields in camelCase (`nullValue`); protoc's are snake_case. */
function protoFieldName(field: protobuf.Field): string {
  let top: protobuf.ReflectionObject = field.parent as protobuf.ReflectionObject;
  while (top.parent instanceof protobuf.Type) top = top.parent;
  return top.filename ? field.name : field.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const SCALAR_TYPES: Readonly<Record<string, string>> = {
  double: "TYPE_DOUBLE",
  float: "TYPE_FLOAT",
  int64: "TYPE_INT64",
  uint64: "TYPE_UINT64",
  int32: "TYPE_INT32",
  fixed64: "TYPE_FIXED64",
  fixed32: "TYPE_FIXED32",
  bool: "TYPE_BOOL",
  string: "TYPE_STRING",
  bytes: "TYPE_BYTES",
  uint32: "TYPE_UINT32",
  sfixed32: "TYPE_SFIXED32",
  sfixed64: "TYPE_SFIXED64",
  sint32: "TYPE_SINT32",
  sint64: "TYPE_SINT64",
};

const FILE_OPTIONS: Readonly<Record<string, string>> = {
  java_package: "javaPackage",
  java_outer_classname: "javaOuterClassname",
  java_multiple_files: "javaMultipleFiles",
  go_package: "goPackage",
  objc_class_prefix: "objcClassPrefix",
  csharp_namespace: "csharpNamespace",
  php_namespace: "phpNamespace",
  php_metadata_namespace: "phpMetadataNamespace",
  ruby_package: "rubyPackage",
  swift_prefix: "swiftPrefix",
  cc_enable_arenas: "ccEnableArenas",
};

/** Parses `files` (paths relative to `includeDirs`) into one resolved protobufjs root. */
export function loadRoot(files: readonly string[], includeDirs: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string | null => {
    if (target.startsWith("/") && existsSync(target)) return target;
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    // protobufjs serves the google/protobuf well-known types itself.
    return target;
  };
  root.loadSync([...files], { keepCase: true });
  root.resolveAll();
  return root;
}

function fullName(object: protobuf.ReflectionObject): string {
  return object.fullName.replace(/^\./, "");
}

function jsonName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function entryName(fieldName: string): string {
  const camel = jsonName(fieldName);
  return `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Entry`;
}

export class DescriptorBuilder {
  private readonly includeDirs: readonly string[];

  constructor(includeDirs: readonly string[]) {
    this.includeDirs = includeDirs;
  }

  /** The source file of a top-level type, relative to the include dirs (protoc's name). */
  fileOf(object: protobuf.ReflectionObject): string {
    const filename = object.filename;
    if (filename) return this.relativeName(filename);
    let top: protobuf.ReflectionObject = object;
    while (top.parent && !(top.parent instanceof protobuf.Root) && !(top.parent.constructor === protobuf.Namespace)) top = top.parent;
    // The rest of google.protobuf that protobufjs bundles is descriptor.proto (options types).
    return `google/protobuf/${WELL_KNOWN_FILES[top.name] ?? "descriptor"}.proto`;
  }

  private relativeName(filename: string): string {
    if (!filename.startsWith("/")) return filename;
    for (const dir of this.includeDirs) {
      const rel = relative(dir, filename);
      if (!rel.startsWith("..") && !rel.startsWith("/")) return rel;
    }
    return filename;
  }

  /** Every file reachable from `root`'s top-level types, encoded, keyed by file name. */
  build(root: protobuf.Root): Map<string, Uint8Array> {
    const files = new Map<string, { pkg: string; items: protobuf.ReflectionObject[] }>();
    const visit = (ns: protobuf.NamespaceBase): void => {
      for (const nested of ns.nestedArray) {
        if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service) {
          const name = this.fileOf(nested);
          const pkg = ns instanceof protobuf.Root ? "" : fullName(ns);
          const file = files.get(name) ?? { pkg, items: [] };
          file.items.push(nested);
          files.set(name, file);
        } else if (nested instanceof protobuf.Namespace) {
          visit(nested);
        }
      }
    };
    visit(root);
    const filesPerPackage = new Map<string, number>();
    for (const { pkg } of files.values()) filesPerPackage.set(pkg, (filesPerPackage.get(pkg) ?? 0) + 1);

    // Dependencies in the order the files were loaded, which follows the import statements.
    const loadOrder = (root.files as string[]).map((f) => this.relativeName(f));
    const rank = (file: string): number => {
      const i = loadOrder.indexOf(file);
      return i < 0 ? loadOrder.length : i;
    };
    const out = new Map<string, Uint8Array>();
    for (const [name, { pkg, items }] of files) {
      const deps = new Set<string>();
      const file: Obj = {
        name,
        package: pkg || undefined,
        messageType: items.filter((i): i is protobuf.Type => i instanceof protobuf.Type).map((t) => this.message(t, deps)),
        enumType: items.filter((i): i is protobuf.Enum => i instanceof protobuf.Enum).map((e) => this.enumType(e)),
        service: items.filter((i): i is protobuf.Service => i instanceof protobuf.Service).map((s) => this.service(s, deps)),
        syntax: "proto3",
      };
      deps.delete(name);
      file.dependency = [...deps].sort((a, b) => rank(a) - rank(b));
      // Package-level options are per package in protobufjs; they describe a file only when the
      // package has one file.
      const ns = pkg ? root.lookup(pkg) : null;
      const known = wellKnownOptions(name);
      if (known && !items.some((i) => i.filename)) file.options = known;
      else if (ns?.options && filesPerPackage.get(pkg) === 1) {
        const options: Obj = {};
        for (const [key, value] of Object.entries(ns.options)) {
          const mapped = FILE_OPTIONS[key];
          if (mapped) options[mapped] = value;
        }
        if (Object.keys(options).length > 0) file.options = options;
      }
      out.set(name, FileDescriptorProto.encode(FileDescriptorProto.fromObject(file)).finish());
    }
    return out;
  }

  private typeRef(object: protobuf.ReflectionObject, deps: Set<string>): string {
    let top: protobuf.ReflectionObject = object;
    while (top.parent instanceof protobuf.Type) top = top.parent;
    deps.add(this.fileOf(top));
    return `.${fullName(object)}`;
  }

  private field(field: protobuf.Field, deps: Set<string>, nestedTypes: Obj[], oneofIndex: Map<protobuf.OneOf, number>): Obj {
    const name = protoFieldName(field);
    const out: Obj = { name, number: field.id, jsonName: jsonName(name) };
    if (field instanceof protobuf.MapField) {
      const entry = entryName(field.name);
      const valueField = this.scalarOrRef("value", 2, field.type, field.resolvedType, deps);
      nestedTypes.push({
        name: entry,
        field: [{ ...this.scalarOrRef("key", 1, field.keyType, null, deps), label: "LABEL_OPTIONAL" }, { ...valueField, label: "LABEL_OPTIONAL" }],
        options: { mapEntry: true },
      });
      return { ...out, label: "LABEL_REPEATED", type: "TYPE_MESSAGE", typeName: `.${fullName(field.parent as protobuf.Type)}.${entry}` };
    }
    Object.assign(out, this.scalarOrRef(name, field.id, field.type, field.resolvedType, deps));
    out.label = field.repeated ? "LABEL_REPEATED" : "LABEL_OPTIONAL";
    if (field.partOf) out.oneofIndex = oneofIndex.get(field.partOf);
    if (field.options?.proto3_optional) out.proto3Optional = true;
    if (field.options?.deprecated) out.options = { deprecated: true };
    return out;
  }

  private scalarOrRef(name: string, number: number, type: string, resolved: protobuf.Type | protobuf.Enum | null, deps: Set<string>): Obj {
    const out: Obj = { name, number, jsonName: jsonName(name) };
    if (resolved instanceof protobuf.Type) return { ...out, type: "TYPE_MESSAGE", typeName: this.typeRef(resolved, deps) };
    if (resolved instanceof protobuf.Enum) return { ...out, type: "TYPE_ENUM", typeName: this.typeRef(resolved, deps) };
    return { ...out, type: SCALAR_TYPES[type] ?? "TYPE_STRING" };
  }

  private message(type: protobuf.Type, deps: Set<string>): Obj {
    // protoc lists real oneofs first, then the synthetic ones of proto3 `optional` fields.
    const isSynthetic = (o: protobuf.OneOf): boolean => o.fieldsArray.length === 1 && o.fieldsArray[0]!.options?.proto3_optional === true;
    const oneofs = [...type.oneofsArray.filter((o) => !isSynthetic(o)), ...type.oneofsArray.filter(isSynthetic)];
    const oneofIndex = new Map(oneofs.map((o, i) => [o, i]));
    const nestedTypes: Obj[] = [];
    // Extensions of another file (`extend google.protobuf.FieldOptions`) are merged into the
    // extended type by protobufjs under a dotted name; they are not fields of this message.
    const fields = type.fieldsArray.filter((f) => !f.name.startsWith(".")).map((f) => this.field(f, deps, nestedTypes, oneofIndex));
    const out: Obj = {
      name: type.name,
      field: fields,
      nestedType: [
        ...type.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type).map((t) => this.message(t, deps)),
        ...nestedTypes,
      ],
      enumType: type.nestedArray.filter((n): n is protobuf.Enum => n instanceof protobuf.Enum).map((e) => this.enumType(e)),
      oneofDecl: oneofs.map((o) => ({ name: o.name })),
    };
    if (type.options?.deprecated) out.options = { deprecated: true };
    return out;
  }

  private enumType(e: protobuf.Enum): Obj {
    return { name: e.name, value: Object.entries(e.values).map(([name, number]) => ({ name, number })) };
  }

  private service(service: protobuf.Service, deps: Set<string>): Obj {
    return {
      name: service.name,
      method: service.methodsArray.map((m) => {
        m.resolve();
        return {
          name: m.name,
          inputType: this.typeRef(m.resolvedRequestType as protobuf.Type, deps),
          outputType: this.typeRef(m.resolvedResponseType as protobuf.Type, deps),
          clientStreaming: m.requestStream === true ? true : undefined,
          serverStreaming: m.responseStream === true ? true : undefined,
        };
      }),
    };
  }
}
