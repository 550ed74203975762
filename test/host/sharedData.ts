// Envoy's process-wide shared data, partitioned by vm_id, with compare-and-swap versions.
// Keys are kept as the exact bytes the plugin wrote (latin1-mapped) so binary keys never collide.

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
  private readonly entries = new Map<string, SharedDataEntry>();

  constructor(
    readonly vmId: string,
    private readonly cas: CasSequence,
  ) {}

  get(key: string): SharedDataEntry | undefined {
    return this.entries.get(keyFromText(key));
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
    return this.entries.get(key);
  }

  setRaw(key: string, value: Uint8Array, cas: number): number {
    const current = this.entries.get(key);
    if (cas !== 0 && current !== undefined && current.cas !== cas) return SharedDataStatus.CAS_MISMATCH;
    this.entries.set(key, { value, cas: this.cas.next() });
    return SharedDataStatus.OK;
  }
}
