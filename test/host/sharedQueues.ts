// Shared queues keyed by (vm_id, name). The registrant owns delivery: every enqueue posts one
// proxy_on_queue_ready to it on a later event-loop turn, as Envoy posts to the owner's dispatcher.
import { ByteKeyedMap } from "./byteKeyedMap.ts";

export interface QueueOwner {
  /** Called asynchronously once per enqueue while the owner is alive. */
  queueReady(queueId: number): void;
  alive(): boolean;
}

interface SharedQueue {
  id: number;
  vmId: string;
  name: string;
  items: Uint8Array[];
  owner: QueueOwner;
}

const encoder = new TextEncoder();

export class SharedQueues {
  private nextId = 1;
  private readonly byName = new Map<string, SharedQueue>();
  /** byName keyed by the UTF-8 bytes of `${vmId}\0${name}`, for resolving without decoding strings. */
  private readonly byNameBytes = new ByteKeyedMap<SharedQueue>();
  private readonly byId = new Map<number, SharedQueue>();
  private lookupKey = new Uint8Array(256);

  constructor(private readonly post: (fn: () => void) => void) {}

  /** Re-registering keeps the id and queued items and moves delivery to the new owner. */
  register(vmId: string, name: string, owner: QueueOwner): number {
    const key = `${vmId}\0${name}`;
    const existing = this.byName.get(key);
    if (existing !== undefined) {
      existing.owner = owner;
      return existing.id;
    }
    const queue: SharedQueue = { id: this.nextId++, vmId, name, items: [], owner };
    this.byName.set(key, queue);
    this.byNameBytes.set(encoder.encode(key), queue);
    this.byId.set(queue.id, queue);
    return queue.id;
  }

  resolve(vmId: string, name: string): number | undefined {
    return this.byName.get(`${vmId}\0${name}`)?.id;
  }

  /** resolve() for a vm_id and a name given as UTF-8 bytes: memory[vmIdStart, vmIdEnd), memory[nameStart, nameEnd). */
  resolveBytes(memory: Uint8Array, vmIdStart: number, vmIdEnd: number, nameStart: number, nameEnd: number): number | undefined {
    const vmIdLength = vmIdEnd - vmIdStart;
    const length = vmIdLength + 1 + nameEnd - nameStart;
    if (this.lookupKey.length < length) this.lookupKey = new Uint8Array(length * 2);
    const key = this.lookupKey;
    for (let i = 0; i < vmIdLength; i++) key[i] = memory[vmIdStart + i]!;
    key[vmIdLength] = 0;
    for (let i = vmIdLength + 1; i < length; i++) key[i] = memory[nameStart + i - vmIdLength - 1]!;
    return this.byNameBytes.get(key, 0, length)?.id;
  }

  enqueue(id: number, value: Uint8Array): boolean {
    const queue = this.byId.get(id);
    if (queue === undefined) return false;
    queue.items.push(value);
    this.post(() => {
      if (queue.owner.alive()) queue.owner.queueReady(id);
    });
    return true;
  }

  /** undefined = unknown queue; null = empty. */
  dequeue(id: number): Uint8Array | null | undefined {
    const queue = this.byId.get(id);
    if (queue === undefined) return undefined;
    return queue.items.shift() ?? null;
  }

  size(vmId: string, name: string): number | undefined {
    return this.byName.get(`${vmId}\0${name}`)?.items.length;
  }
}
