// Deterministic randomness for the fuzzers. The seed comes from FUZZ_SEED or the clock, and every test
// prints it, so a failure is replayed with `FUZZ_SEED=<seed> npm run fuzz`. FUZZ_SCALE multiplies the
// number of cases (npm test runs scale 1: a few seconds per file).

export function fuzzSeed(): number {
  const raw = process.env["FUZZ_SEED"];
  if (raw !== undefined && /^\d+$/.test(raw)) return Number(raw) >>> 0;
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

export function fuzzScale(): number {
  const raw = Number(process.env["FUZZ_SCALE"] ?? "1");
  return Number.isFinite(raw) && raw > 0 ? raw : 1;
}

export function cases(base: number): number {
  return Math.max(1, Math.round(base * fuzzScale()));
}

/** mulberry32: small, fast, good enough to explore inputs; not for secrets. */
export class Random {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(maxLength: number): Buffer {
    const out = Buffer.alloc(this.int(maxLength + 1));
    for (let i = 0; i < out.length; i++) out[i] = this.int(256);
    return out;
  }

  /** Strings that break naive code: empty, huge, control characters, lone surrogates, RTL, emoji, NUL. */
  string(): string {
    switch (this.int(10)) {
      case 0:
        return "";
      case 1:
        return "x".repeat(1 + this.int(this.chance(0.2) ? 200_000 : 2000));
      case 2:
        return this.pick(["\uD800", "\uDFFF", "a\uD83Dz", "\uDC00\uD800", "\u0000", "\uFFFE", "\uFEFF"]) + this.ascii(8);
      case 3:
        return Array.from({ length: this.int(40) }, () => String.fromCharCode(this.int(0x10000))).join("");
      case 4:
        return this.pick(["../../etc/passwd", "%00", "${jndi:ldap://x}", "<script>", "' OR 1=1 --", "\r\nx-injected: 1", "🦄💥", "\u202Eevil", "null", "NaN"]);
      case 5:
        return this.bytes(64).toString("latin1");
      default:
        return this.ascii(1 + this.int(24));
    }
  }

  ascii(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += String.fromCharCode(0x21 + this.int(94));
    return out;
  }

  /** Numbers that break naive code: NaN, infinities, negatives, -0, huge, fractional, past 2^53. */
  number(): number {
    return this.pick([NaN, Infinity, -Infinity, -1, -0, 0, 0.5, 1, 1e308, -1e308, 2 ** 53 + 1, 2 ** 31, -(2 ** 31), 2 ** 32, 4294967295, Number.MIN_VALUE, this.int(1000), -this.int(1000), this.next() * 1e6]);
  }

  /** Any JSON-ish value, nested up to `depth`. */
  json(depth = 3): unknown {
    switch (this.int(depth > 0 ? 8 : 5)) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.number();
      case 3:
        return this.string();
      case 4:
        return this.int(100);
      case 5:
        return Array.from({ length: this.int(4) }, () => this.json(depth - 1));
      default: {
        const out: Record<string, unknown> = {};
        for (let i = this.int(4); i > 0; i--) out[this.string().slice(0, 40)] = this.json(depth - 1);
        return out;
      }
    }
  }

  /**
   * A copy of `value` with one change somewhere inside: a value replaced by a random one, a key removed,
   * an unknown key added, an array emptied or an item duplicated, a number made hostile.
   */
  mutate(value: unknown): unknown {
    const copy = structuredClone(value);
    const containers: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach((child, i) => (containers.push({ parent: node, key: i }), walk(child)));
      else if (node !== null && typeof node === "object") for (const [k, child] of Object.entries(node)) (containers.push({ parent: node as Record<string, unknown>, key: k }), walk(child));
    };
    walk(copy);
    if (containers.length === 0) return this.json();
    const { parent, key } = this.pick(containers);
    const target = (parent as Record<string | number, unknown>)[key];
    switch (this.int(7)) {
      case 0:
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        break;
      case 1:
        // defineProperty: plain assignment to "__proto__" would change the prototype, not add a key.
        if (!Array.isArray(parent)) Object.defineProperty(parent, this.pick([this.string().slice(0, 20), "__proto__", "constructor", "toString"]), { value: this.json(1), enumerable: true, configurable: true, writable: true });
        else parent.push(this.json(1));
        break;
      case 2:
        (parent as Record<string | number, unknown>)[key] = typeof target === "number" ? this.number() : this.json(1);
        break;
      case 3:
        (parent as Record<string | number, unknown>)[key] = this.string();
        break;
      case 4:
        (parent as Record<string | number, unknown>)[key] = Array.isArray(target) ? [] : [target];
        break;
      case 5:
        (parent as Record<string | number, unknown>)[key] = this.number();
        break;
      default:
        (parent as Record<string | number, unknown>)[key] = this.pick([null, true, false, {}, [], "", 0]);
    }
    return copy;
  }
}
