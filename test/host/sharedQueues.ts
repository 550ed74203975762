// Shared queues keyed by (vm_id, name). The registrant owns delivery: every enqueue posts one
// proxy_on_queue_ready to it on a later event-loop turn, as Envoy posts to the owner's dispatcher.

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

export class SharedQueues {
  private nextId = 1;
  private readonly byName = new Map<string, SharedQueue>();
  private readonly byId = new Map<number, SharedQueue>();

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
    this.byId.set(queue.id, queue);
    return queue.id;
  }

  resolve(vmId: string, name: string): number | undefined {
    return this.byName.get(`${vmId}\0${name}`)?.id;
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
