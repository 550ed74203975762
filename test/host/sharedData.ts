// Envoy's process-wide shared data, partitioned by vm_id, with compare-and-swap versions.
// Keys are kept as the exact bytes the plugin wrote (latin1-mapped) so binary keys never collide, and
// indexed by those bytes too so that a plugin's read needs no string.
import { ByteKeyedMap, type Keyed } from "./byteKeyedMap.ts";

export interface SharedDataEntry {
  value: Uint8Array;
  cas: number;
}

export const SharedDataStatus = { OK: 0, CAS_MISMATCH: 8 } as const;

/** One cas sequence for the whole host, as in proxy-wasm-cpp-host; never 0. */
export class CasSequence {
  private last = 0;
  next(): number {
    this.last = (this.last + 1) >>> 0;
    if (this.last === 0) this.last = 1;
    return this.last;
  }
}

function keyFromText(key: string): string {
  return Buffer.from(key, "utf8").toString("latin1");
}

export class SharedDataStore {
  // One node per key, shared by the string index and the byte index: a set replaces its value in place,
  // so both see it, and a read by bytes is one lookup away from the entry.
  private readonly entries = new Map<string, Keyed<SharedDataEntry>>();
  private readonly byBytes = new ByteKeyedMap<SharedDataEntry>();

  constructor(
    readonly vmId: string,
    private readonly cas: CasSequence,
  ) {}

  get(key: string): SharedDataEntry | undefined {
    return this.entries.get(keyFromText(key))?.value;
  }

  /** Same rules as proxy_set_shared_data: cas 0 always writes, a stale non-zero cas is refused. */
  set(key: string, value: Uint8Array | string, cas = 0): number {
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    return this.setRaw(keyFromText(key), bytes.slice(), cas);
  }

  keys(): string[] {
    return [...this.entries.keys()].map((k) => Buffer.from(k, "latin1").toString("utf8"));
  }

  /** Key given as latin1-mapped bytes; value is stored as given (callers pass a private copy). */
  getRaw(key: string): SharedDataEntry | undefined {
    return this.entries.get(key)?.value;
  }

  /** Key given as the bytes memory[start, end) (what proxy_get_shared_data receives). */
  getByBytes(memory: Uint8Array, start: number, end: number): SharedDataEntry | undefined {
    return this.byBytes.get(memory, start, end);
  }

  setRaw(key: string, value: Uint8Array, cas: number): number {
    const node = this.entries.get(key);
    if (node === undefined) {
      this.entries.set(key, this.byBytes.set(new Uint8Array(Buffer.from(key, "latin1")), { value, cas: this.cas.next() }));
      return SharedDataStatus.OK;
    }
    if (cas !== 0 && node.value.cas !== cas) return SharedDataStatus.CAS_MISMATCH;
    node.value = { value, cas: this.cas.next() };
    return SharedDataStatus.OK;
  }
}
