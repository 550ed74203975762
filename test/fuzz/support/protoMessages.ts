// Random request messages for any method, built from the descriptors proto-loader keeps: every field of
// the request type (nested messages, repeated fields, maps, enums including numbers the schema does not
// know), filled with hostile values of the field's type.
//
// proto-loader keeps a field's type name as protobufjs shortens it relative to the field's message
// ("Request" inside AttributeContext, "service.auth.v3.AttributeContext" inside CheckRequest,
// "BooleanEntitlementOptions" inside a Sidecar request), and lists only top-level types in the package
// definition; nested types (AttributeContext.Peer, map entries) live in their parent's `nestedType`.
// ProtoTypes indexes every type by its full name and resolves names the way protoc does.
import type * as protoLoader from "@grpc/proto-loader";
import type { Random } from "./random.ts";

export interface FieldDescriptor {
  name: string;
  label: string;
  type: string;
  typeName: string;
}

export interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
  enumType?: EnumDescriptor[];
  options?: { mapEntry?: boolean } | null;
}

export interface EnumDescriptor {
  name: string;
  value: { name: string; number: number }[];
}

const MESSAGE_FORMAT = "Protocol Buffer 3 DescriptorProto";
const ENUM_FORMAT = "Protocol Buffer 3 EnumDescriptorProto";

/** Every message and enum of a package definition, nested ones included, by full name (no leading dot). */
export class ProtoTypes {
  private readonly messageTypes = new Map<string, MessageDescriptor>();
  private readonly enumTypes = new Map<string, EnumDescriptor>();

  constructor(pkg: protoLoader.PackageDefinition) {
    for (const [name, entry] of Object.entries(pkg)) {
      const { format, type } = entry as { format?: string; type?: unknown };
      if (format === MESSAGE_FORMAT) this.addMessage(name, type as MessageDescriptor);
      else if (format === ENUM_FORMAT) this.enumTypes.set(name, type as EnumDescriptor);
    }
  }

  private addMessage(fullName: string, type: MessageDescriptor): void {
    this.messageTypes.set(fullName, type);
    for (const nested of type.nestedType ?? []) this.addMessage(`${fullName}.${nested.name}`, nested);
    for (const e of type.enumType ?? []) this.enumTypes.set(`${fullName}.${e.name}`, e);
  }

  messages(): IterableIterator<[string, MessageDescriptor]> {
    return this.messageTypes.entries();
  }

  message(fullName: string): MessageDescriptor | undefined {
    return this.messageTypes.get(fullName);
  }

  enum(fullName: string): EnumDescriptor | undefined {
    return this.enumTypes.get(fullName);
  }

  /**
   * The full name `typeName` means inside the message `scope` (a full name): a leading dot makes it
   * fully qualified; otherwise it is looked up in the message, then each enclosing message and package
   * outward to the root. undefined when no type of that name exists.
   */
  resolve(typeName: string, scope: string): string | undefined {
    if (typeName.startsWith(".")) return this.known(typeName.slice(1));
    const parts = scope.split(".");
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), typeName].join(".");
      if (this.known(candidate)) return candidate;
    }
    return undefined;
  }

  private known(fullName: string): string | undefined {
    return this.messageTypes.has(fullName) || this.enumTypes.has(fullName) ? fullName : undefined;
  }
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Roughly the characters one message may hold. Nested repeated fields multiply (500 items of 500
 * items of 200 KB strings); past the budget, fields are left out, so every message stays well under
 * gRPC's default 4 MB receive limit and the servers answer about content, not size.
 */
const MESSAGE_BUDGET = 1_000_000;
/** What an empty message, a number or a map key is charged, so item counts are bounded too. */
const NODE_COST = 16;

export class MessageFuzzer {
  private readonly types: ProtoTypes;
  private budget = 0;

  constructor(
    pkg: protoLoader.PackageDefinition,
    private readonly random: Random,
    /** The loader's keepCase: false means JavaScript keys are camelCase. */
    private readonly keepCase: boolean,
  ) {
    this.types = new ProtoTypes(pkg);
  }

  /** A random message of the type with full name `typeName` (a leading dot is allowed); {} for an unknown type. */
  message(typeName: string, depth = 4): Record<string, unknown> {
    this.budget = MESSAGE_BUDGET;
    return this.build(typeName.replace(/^\./, ""), depth);
  }

  private build(fullName: string, depth: number): Record<string, unknown> {
    const type = this.types.message(fullName);
    const out: Record<string, unknown> = {};
    if (!type) return out;
    for (const field of type.field) {
      // Leaving fields out matters as much as filling them: required-looking fields must be checked.
      if (this.random.chance(0.3) || this.budget <= 0) continue;
      const key = this.keepCase ? field.name : camel(field.name);
      out[key] = this.fieldValue(field, fullName, depth);
    }
    return out;
  }

  private fieldValue(field: FieldDescriptor, scope: string, depth: number): unknown {
    const typeName = field.type === "TYPE_MESSAGE" || field.type === "TYPE_ENUM" ? this.types.resolve(field.typeName, scope) : undefined;
    if (field.type === "TYPE_MESSAGE" && typeName !== undefined) {
      const entry = this.types.message(typeName);
      if (entry?.options?.mapEntry) {
        const out: Record<string, unknown> = {};
        const valueField = entry.field.find((f) => f.name === "value")!;
        for (let i = this.random.int(4); i > 0 && this.budget > 0; i--) {
          const key = this.random.string().slice(0, 200);
          this.budget -= key.length + NODE_COST;
          out[key] = this.single(valueField, typeName, depth - 1);
        }
        return out;
      }
    }
    if (field.label === "LABEL_REPEATED") {
      const items: unknown[] = [];
      for (let n = this.random.int(this.random.chance(0.05) ? 500 : 4); n > 0 && this.budget > 0; n--) items.push(this.single(field, scope, depth - 1, typeName));
      return items;
    }
    return this.single(field, scope, depth, typeName);
  }

  /** One value of `field` (declared in the message `scope`); `resolved` is its type's full name when already known. */
  private single(field: FieldDescriptor, scope: string, depth: number, resolved?: string): unknown {
    this.budget -= NODE_COST;
    switch (field.type) {
      case "TYPE_STRING":
        return this.charged(this.random.string());
      case "TYPE_BYTES":
        return this.charged(this.random.bytes(this.random.chance(0.1) ? 100_000 : 64));
      case "TYPE_BOOL":
        return this.random.chance(0.5);
      case "TYPE_DOUBLE":
      case "TYPE_FLOAT":
        return this.random.number();
      case "TYPE_INT32":
      case "TYPE_SINT32":
      case "TYPE_SFIXED32":
        return this.random.pick([0, -1, 1, 2 ** 31 - 1, -(2 ** 31), this.random.int(1000) - 500]);
      case "TYPE_UINT32":
      case "TYPE_FIXED32":
        return this.random.pick([0, 1, 2 ** 32 - 1, this.random.int(1000)]);
      case "TYPE_INT64":
      case "TYPE_SINT64":
      case "TYPE_SFIXED64":
        return this.random.pick(["0", "-1", "9223372036854775807", "-9223372036854775808", String(2 ** 53 + 1), String(this.random.int(1_000_000))]);
      case "TYPE_UINT64":
      case "TYPE_FIXED64":
        return this.random.pick(["0", "18446744073709551615", String(2 ** 53 + 1), String(this.random.int(1_000_000))]);
      case "TYPE_ENUM": {
        const name = resolved ?? this.types.resolve(field.typeName, scope);
        const e = name === undefined ? undefined : this.types.enum(name);
        // Known names, known numbers, and numbers the schema does not know (a newer client).
        if (e && this.random.chance(0.6)) {
          const v = this.random.pick(e.value);
          return this.random.chance(0.5) ? v.name : v.number;
        }
        return this.random.pick([99, -1, 2 ** 31 - 1, 7, 1000]);
      }
      case "TYPE_MESSAGE": {
        const name = resolved ?? this.types.resolve(field.typeName, scope);
        return depth <= 0 || name === undefined ? {} : this.build(name, depth - 1);
      }
      default:
        return undefined;
    }
  }

  /** Keeps the budget: a value longer than what is left is cut to it. */
  private charged<T extends string | Buffer>(value: T): T {
    const room = Math.max(0, this.budget);
    const kept = value.length <= room ? value : ((typeof value === "string" ? value.slice(0, room) : value.subarray(0, room)) as T);
    this.budget -= kept.length;
    return kept;
  }
}
