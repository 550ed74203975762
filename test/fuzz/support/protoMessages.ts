// Random request messages for any method, built from the descriptors proto-loader keeps: every field of
// the request type (nested messages, repeated fields, maps, enums including numbers the schema does not
// know), filled with hostile values of the field's type.
import type * as protoLoader from "@grpc/proto-loader";
import type { Random } from "./random.ts";

interface FieldDescriptor {
  name: string;
  jsonName?: string;
  label: string;
  type: string;
  typeName: string;
}

interface MessageDescriptor {
  field: FieldDescriptor[];
  options?: { mapEntry?: boolean } | null;
}

interface EnumDescriptor {
  value: { name: string; number: number }[];
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

export class MessageFuzzer {
  constructor(
    private readonly pkg: protoLoader.PackageDefinition,
    private readonly random: Random,
    /** The loader's keepCase: false means JavaScript keys are camelCase. */
    private readonly keepCase: boolean,
  ) {}

  message(typeName: string, depth = 4): Record<string, unknown> {
    const type = this.descriptor(typeName);
    const out: Record<string, unknown> = {};
    if (!type) return out;
    for (const field of type.field) {
      // Leaving fields out matters as much as filling them: required-looking fields must be checked.
      if (this.random.chance(0.3)) continue;
      const key = this.keepCase ? field.name : camel(field.name);
      out[key] = this.fieldValue(field, depth);
    }
    return out;
  }

  private descriptor(typeName: string): MessageDescriptor | undefined {
    const entry = this.pkg[typeName.replace(/^\./, "")] as { type?: MessageDescriptor } | undefined;
    return entry?.type;
  }

  private fieldValue(field: FieldDescriptor, depth: number): unknown {
    if (field.type === "TYPE_MESSAGE") {
      const nested = this.descriptor(field.typeName);
      if (nested?.options?.mapEntry) {
        const out: Record<string, unknown> = {};
        const valueField = nested.field.find((f) => f.name === "value")!;
        for (let i = this.random.int(4); i > 0; i--) out[this.random.string().slice(0, 200)] = this.single(valueField, depth - 1);
        return out;
      }
    }
    if (field.label === "LABEL_REPEATED") return Array.from({ length: this.random.int(this.random.chance(0.05) ? 500 : 4) }, () => this.single(field, depth - 1));
    return this.single(field, depth);
  }

  private single(field: FieldDescriptor, depth: number): unknown {
    switch (field.type) {
      case "TYPE_STRING":
        return this.random.string();
      case "TYPE_BYTES":
        return this.random.bytes(this.random.chance(0.1) ? 100_000 : 64);
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
        const e = (this.pkg[field.typeName.replace(/^\./, "")] as { type?: EnumDescriptor } | undefined)?.type;
        // Known names, known numbers, and numbers the schema does not know (a newer client).
        if (e && this.random.chance(0.6)) {
          const v = this.random.pick(e.value);
          return this.random.chance(0.5) ? v.name : v.number;
        }
        return this.random.pick([99, -1, 2 ** 31 - 1, 7, 1000]);
      }
      case "TYPE_MESSAGE":
        return depth <= 0 ? {} : this.message(field.typeName, depth - 1);
      default:
        return undefined;
    }
  }
}
