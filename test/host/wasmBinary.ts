// Reads just enough of a Wasm binary to know every import's and export's full function type.
// Node's WebAssembly.Module.imports() gives names only, and JS host functions accept any arity,
// so without this a module with a wrong-arity import would load here but not in Envoy.

export type ValType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref";

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export type ImportKind = "func" | "table" | "memory" | "global" | "tag";

export interface WasmImport {
  module: string;
  name: string;
  kind: ImportKind;
  /** Only for kind "func". */
  type?: FuncType;
}

export interface WasmExport {
  name: string;
  kind: ImportKind;
  /** Only for kind "func". */
  type?: FuncType;
}

export interface WasmModuleInfo {
  imports: WasmImport[];
  exports: WasmExport[];
}

export class WasmParseError extends Error {
  override name = "WasmParseError";
}

const VALTYPES: Record<number, ValType> = {
  0x7f: "i32",
  0x7e: "i64",
  0x7d: "f32",
  0x7c: "f64",
  0x7b: "v128",
  0x70: "funcref",
  0x6f: "externref",
};

const KINDS: ImportKind[] = ["func", "table", "memory", "global", "tag"];

class Reader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get length(): number {
    return this.bytes.length;
  }

  byte(): number {
    if (this.pos >= this.bytes.length) throw new WasmParseError("unexpected end of Wasm binary");
    return this.bytes[this.pos++]!;
  }

  /** Unsigned LEB128; returns a number (values here never exceed 2^53). */
  uleb(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new WasmParseError("LEB128 value too long");
  }

  name(): string {
    const len = this.uleb();
    if (this.pos + len > this.bytes.length) throw new WasmParseError("name runs past end of section");
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  valType(): ValType {
    const b = this.byte();
    const t = VALTYPES[b];
    if (t === undefined) throw new WasmParseError(`unsupported value type 0x${b.toString(16)}`);
    return t;
  }

  limits(): void {
    const flags = this.byte();
    this.uleb();
    if (flags & 1) this.uleb();
  }
}

function readFuncType(r: Reader): FuncType {
  const form = r.byte();
  if (form !== 0x60) throw new WasmParseError(`unsupported type form 0x${form.toString(16)} (GC types are not supported)`);
  const params: ValType[] = [];
  for (let n = r.uleb(); n > 0; n--) params.push(r.valType());
  const results: ValType[] = [];
  for (let n = r.uleb(); n > 0; n--) results.push(r.valType());
  return { params, results };
}

export function parseWasmModule(bytes: Uint8Array): WasmModuleInfo {
  const r = new Reader(bytes);
  const magic = [r.byte(), r.byte(), r.byte(), r.byte()];
  if (magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) {
    throw new WasmParseError("not a Wasm binary (bad magic)");
  }
  const version = r.byte() | (r.byte() << 8) | (r.byte() << 16) | (r.byte() << 24);
  if (version !== 1) throw new WasmParseError(`unsupported Wasm binary version ${version}`);

  const types: FuncType[] = [];
  const imports: WasmImport[] = [];
  const funcTypeIndexes: number[] = [];
  const rawExports: Array<{ name: string; kind: ImportKind; index: number }> = [];

  while (r.pos < r.length) {
    const id = r.byte();
    const size = r.uleb();
    const end = r.pos + size;
    if (end > r.length) throw new WasmParseError(`section ${id} runs past end of binary`);
    switch (id) {
      case 1:
        for (let n = r.uleb(); n > 0; n--) types.push(readFuncType(r));
        break;
      case 2:
        for (let n = r.uleb(); n > 0; n--) {
          const module = r.name();
          const name = r.name();
          const kindByte = r.byte();
          const kind = KINDS[kindByte];
          if (kind === undefined) throw new WasmParseError(`unknown import kind ${kindByte}`);
          if (kind === "func") {
            const type = types[r.uleb()];
            if (type === undefined) throw new WasmParseError(`import ${module}.${name} has a bad type index`);
            imports.push({ module, name, kind, type });
          } else {
            if (kind === "table") {
              r.byte();
              r.limits();
            } else if (kind === "memory") {
              r.limits();
            } else if (kind === "global") {
              r.byte();
              r.byte();
            } else {
              r.byte();
              r.uleb();
            }
            imports.push({ module, name, kind });
          }
        }
        break;
      case 3:
        for (let n = r.uleb(); n > 0; n--) funcTypeIndexes.push(r.uleb());
        break;
      case 7:
        for (let n = r.uleb(); n > 0; n--) {
          const name = r.name();
          const kindByte = r.byte();
          const kind = KINDS[kindByte];
          if (kind === undefined) throw new WasmParseError(`unknown export kind ${kindByte}`);
          rawExports.push({ name, kind, index: r.uleb() });
        }
        break;
      default:
        break;
    }
    r.pos = end;
  }

  const importedFuncTypes = imports.filter((i) => i.kind === "func").map((i) => i.type!);
  const exports: WasmExport[] = rawExports.map(({ name, kind, index }) => {
    if (kind !== "func") return { name, kind };
    const type =
      index < importedFuncTypes.length
        ? importedFuncTypes[index]
        : types[funcTypeIndexes[index - importedFuncTypes.length] ?? -1];
    if (type === undefined) throw new WasmParseError(`export ${name} refers to an unknown function`);
    return { name, kind, type };
  });
  return { imports, exports };
}

export function formatFuncType(t: FuncType): string {
  return `(${t.params.join(", ")}) -> (${t.results.join(", ")})`;
}

export function sameFuncType(a: FuncType, b: FuncType): boolean {
  return (
    a.params.length === b.params.length &&
    a.results.length === b.results.length &&
    a.params.every((p, i) => p === b.params[i]) &&
    a.results.every((p, i) => p === b.results[i])
  );
}
