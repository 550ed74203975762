// A strict JSON parser (RFC 8259) for configuration. It never traps: malformed input, excessive nesting
// or size produce an error with the byte offset. Objects keep their keys in order and reject duplicates,
// so configuration errors can name the exact field.

export const MAX_JSON_BYTES: i32 = 1 << 20;
export const MAX_JSON_DEPTH: i32 = 32;

export enum JsonKind { NULL, BOOL, NUMBER, STRING, ARRAY, OBJECT }

export class JsonValue {
  kind: JsonKind = JsonKind.NULL;
  boolean: bool = false;
  number: f64 = 0;
  text: string = "";
  items: JsonValue[] = [];
  keys: string[] = [];

  static ofNull(): JsonValue { return new JsonValue(); }
  static ofBool(value: bool): JsonValue { const v = new JsonValue(); v.kind = JsonKind.BOOL; v.boolean = value; return v; }
  static ofNumber(value: f64): JsonValue { const v = new JsonValue(); v.kind = JsonKind.NUMBER; v.number = value; return v; }
  static ofString(value: string): JsonValue { const v = new JsonValue(); v.kind = JsonKind.STRING; v.text = value; return v; }

  get isNull(): bool { return this.kind == JsonKind.NULL; }
  get isBool(): bool { return this.kind == JsonKind.BOOL; }
  get isNumber(): bool { return this.kind == JsonKind.NUMBER; }
  get isString(): bool { return this.kind == JsonKind.STRING; }
  get isArray(): bool { return this.kind == JsonKind.ARRAY; }
  get isObject(): bool { return this.kind == JsonKind.OBJECT; }

  /** The member named `key` of an object (null if absent or not an object). */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.OBJECT) return null;
    for (let i = 0; i < this.keys.length; i++) if (unchecked(this.keys[i]) == key) return unchecked(this.items[i]);
    return null;
  }

  get length(): i32 { return this.items.length; }

  describe(): string {
    switch (this.kind) {
      case JsonKind.NULL: return "null";
      case JsonKind.BOOL: return "a boolean";
      case JsonKind.NUMBER: return "a number";
      case JsonKind.STRING: return "a string";
      case JsonKind.ARRAY: return "an array";
      default: return "an object";
    }
  }
}

export class JsonResult {
  constructor(public value: JsonValue | null, public error: string, public offset: i32) {}
  get ok(): bool { return this.value !== null; }
}

export function parseJson(text: string): JsonResult {
  return parseJsonBytes(String.UTF8.encode(text));
}

export function parseJsonBytes(bytes: ArrayBuffer): JsonResult {
  if (bytes.byteLength > MAX_JSON_BYTES) return new JsonResult(null, "document larger than " + MAX_JSON_BYTES.toString() + " bytes", 0);
  const parser = new JsonParser(bytes);
  parser.skipWhitespace();
  const value = parser.parseValue(0);
  if (value !== null) {
    parser.skipWhitespace();
    if (parser.pos < parser.end) return new JsonResult(null, "unexpected data after the document", parser.pos);
    return new JsonResult(value, "", 0);
  }
  return new JsonResult(null, parser.error, parser.pos);
}

class JsonParser {
  pos: i32 = 0;
  end: i32;
  base: usize;
  error: string = "";

  constructor(public bytes: ArrayBuffer) {
    this.end = bytes.byteLength;
    this.base = changetype<usize>(bytes);
  }

  @inline peek(): i32 { return this.pos < this.end ? <i32>load<u8>(this.base + <usize>this.pos) : -1; }

  fail(message: string): JsonValue | null {
    if (this.error.length == 0) this.error = message;
    return null;
  }

  skipWhitespace(): void {
    while (this.pos < this.end) {
      const c = load<u8>(this.base + <usize>this.pos);
      if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) this.pos++;
      else break;
    }
  }

  parseValue(depth: i32): JsonValue | null {
    if (depth > MAX_JSON_DEPTH) return this.fail("nesting deeper than " + MAX_JSON_DEPTH.toString());
    const c = this.peek();
    if (c == -1) return this.fail("unexpected end of input");
    if (c == 0x7b) return this.parseObject(depth);
    if (c == 0x5b) return this.parseArray(depth);
    if (c == 0x22) {
      const text = this.parseString();
      return text === null ? null : JsonValue.ofString(text);
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
    if (this.matchLiteral("true")) return JsonValue.ofBool(true);
    if (this.matchLiteral("false")) return JsonValue.ofBool(false);
    if (this.matchLiteral("null")) return JsonValue.ofNull();
    return this.fail("unexpected character");
  }

  matchLiteral(word: string): bool {
    const n = word.length;
    if (this.pos + n > this.end) return false;
    for (let i = 0; i < n; i++) {
      if (<i32>load<u8>(this.base + <usize>(this.pos + i)) != word.charCodeAt(i)) return false;
    }
    this.pos += n;
    return true;
  }

  parseObject(depth: i32): JsonValue | null {
    this.pos++; // {
    const object = new JsonValue();
    object.kind = JsonKind.OBJECT;
    this.skipWhitespace();
    if (this.peek() == 0x7d) { this.pos++; return object; }
    while (true) {
      this.skipWhitespace();
      if (this.peek() != 0x22) return this.fail("expected a string key");
      const key = this.parseString();
      if (key === null) return null;
      for (let i = 0; i < object.keys.length; i++) {
        if (unchecked(object.keys[i]) == key) return this.fail("duplicate key \"" + key + "\"");
      }
      this.skipWhitespace();
      if (this.peek() != 0x3a) return this.fail("expected ':'");
      this.pos++;
      this.skipWhitespace();
      const value = this.parseValue(depth + 1);
      if (value === null) return null;
      object.keys.push(key);
      object.items.push(value);
      this.skipWhitespace();
      const c = this.peek();
      if (c == 0x2c) { this.pos++; continue; }
      if (c == 0x7d) { this.pos++; return object; }
      return this.fail("expected ',' or '}'");
    }
    return null;
  }

  parseArray(depth: i32): JsonValue | null {
    this.pos++; // [
    const array = new JsonValue();
    array.kind = JsonKind.ARRAY;
    this.skipWhitespace();
    if (this.peek() == 0x5d) { this.pos++; return array; }
    while (true) {
      this.skipWhitespace();
      const value = this.parseValue(depth + 1);
      if (value === null) return null;
      array.items.push(value);
      this.skipWhitespace();
      const c = this.peek();
      if (c == 0x2c) { this.pos++; continue; }
      if (c == 0x5d) { this.pos++; return array; }
      return this.fail("expected ',' or ']'");
    }
    return null;
  }

  parseNumber(): JsonValue | null {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    let c = this.peek();
    if (c == 0x30) {
      this.pos++;
    } else if (c >= 0x31 && c <= 0x39) {
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    } else {
      return this.fail("invalid number");
    }
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!(this.peek() >= 0x30 && this.peek() <= 0x39)) return this.fail("invalid number");
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    }
    c = this.peek();
    if (c == 0x65 || c == 0x45) {
      this.pos++;
      c = this.peek();
      if (c == 0x2b || c == 0x2d) this.pos++;
      if (!(this.peek() >= 0x30 && this.peek() <= 0x39)) return this.fail("invalid number");
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    }
    const text = String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start));
    const value = parseFloat(text);
    if (!isFinite(value)) return this.fail("number out of range");
    return JsonValue.ofNumber(value);
  }

  parseHex4(): i32 {
    if (this.pos + 4 > this.end) return -1;
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const c = <i32>load<u8>(this.base + <usize>(this.pos + i));
      let digit: i32;
      if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) digit = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) digit = c - 0x41 + 10;
      else return -1;
      value = (value << 4) | digit;
    }
    this.pos += 4;
    return value;
  }

  /** Parses a string starting at the opening quote; null (with `error` set) when malformed. */
  parseString(): string | null {
    this.pos++; // opening quote
    let result = "";
    let runStart = this.pos;
    while (true) {
      if (this.pos >= this.end) { this.fail("unterminated string"); return null; }
      const c = <i32>load<u8>(this.base + <usize>this.pos);
      if (c == 0x22) {
        result += this.utf8Run(runStart, this.pos);
        if (this.error.length > 0) return null;
        this.pos++;
        return result;
      }
      if (c < 0x20) { this.fail("control character in string"); return null; }
      if (c != 0x5c) { this.pos++; continue; }
      result += this.utf8Run(runStart, this.pos);
      if (this.error.length > 0) return null;
      this.pos++;
      if (this.pos >= this.end) { this.fail("unterminated string"); return null; }
      const e = <i32>load<u8>(this.base + <usize>this.pos);
      this.pos++;
      switch (e) {
        case 0x22: result += "\""; break;
        case 0x5c: result += "\\"; break;
        case 0x2f: result += "/"; break;
        case 0x62: result += "\b"; break;
        case 0x66: result += "\f"; break;
        case 0x6e: result += "\n"; break;
        case 0x72: result += "\r"; break;
        case 0x74: result += "\t"; break;
        case 0x75: {
          const unit = this.parseHex4();
          if (unit < 0) { this.fail("invalid \\u escape"); return null; }
          if (unit >= 0xd800 && unit <= 0xdbff) {
            if (this.pos + 6 > this.end || load<u8>(this.base + <usize>this.pos) != 0x5c || load<u8>(this.base + <usize>this.pos + 1) != 0x75) {
              this.fail("unpaired surrogate"); return null;
            }
            this.pos += 2;
            const low = this.parseHex4();
            if (low < 0xdc00 || low > 0xdfff) { this.fail("unpaired surrogate"); return null; }
            result += String.fromCharCode(unit, low);
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            this.fail("unpaired surrogate"); return null;
          } else {
            result += String.fromCharCode(unit);
          }
          break;
        }
        default: this.fail("invalid escape"); return null;
      }
      runStart = this.pos;
    }
    return null;
  }

  /** Decodes raw UTF-8 bytes of a string, rejecting invalid sequences. */
  utf8Run(start: i32, end: i32): string {
    if (start == end) return "";
    let i = start;
    while (i < end) {
      const b0 = <u32>load<u8>(this.base + <usize>i);
      if (b0 < 0x80) { i++; continue; }
      let need = 0;
      let min: u32 = 0;
      let cp: u32 = 0;
      if ((b0 & 0xe0) == 0xc0) { need = 1; cp = b0 & 0x1f; min = 0x80; }
      else if ((b0 & 0xf0) == 0xe0) { need = 2; cp = b0 & 0x0f; min = 0x800; }
      else if ((b0 & 0xf8) == 0xf0) { need = 3; cp = b0 & 0x07; min = 0x10000; }
      else { this.fail("invalid UTF-8"); return ""; }
      if (i + need > end - 1) { this.fail("invalid UTF-8"); return ""; }
      for (let k = 1; k <= need; k++) {
        const b = <u32>load<u8>(this.base + <usize>(i + k));
        if ((b & 0xc0) != 0x80) { this.fail("invalid UTF-8"); return ""; }
        cp = (cp << 6) | (b & 0x3f);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) { this.fail("invalid UTF-8"); return ""; }
      i += need + 1;
    }
    return String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(end - start));
  }
}
