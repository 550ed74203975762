// Answers that depend only on a pair of strings, built once per pair and shared by every call: the
// usual ext_authz allow (customer × feature: nothing to strip, no remaining quota, not from fallback).
// A shared answer is frozen all the way down, so the fast path's encoder can keep its bytes too
// (fastPath/hotResponseEncoders.ts encodes a frozen answer once). Bounded: past `max` pairs the whole
// table is dropped and refilled by the calls that follow.

/** Freezes `value` and everything reachable from it (answers are plain objects, arrays and Buffers-free). */
export function freezeDeep<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) freezeDeep((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

export class SharedAnswers<T extends object> {
  private readonly byOuter = new Map<string, Map<string, T>>();
  private count = 0;

  constructor(
    private readonly build: (outer: string, inner: string) => T,
    private readonly max = 10_000,
  ) {}

  get(outer: string, inner: string): T {
    let answers = this.byOuter.get(outer);
    const known = answers?.get(inner);
    if (known !== undefined) return known;
    if (this.count >= this.max) {
      this.byOuter.clear();
      this.count = 0;
      answers = undefined;
    }
    if (answers === undefined) {
      answers = new Map();
      this.byOuter.set(outer, answers);
    }
    const answer = freezeDeep(this.build(outer, inner));
    answers.set(inner, answer);
    this.count++;
    return answer;
  }

  /** Pairs held now (tests). */
  get size(): number {
    return this.count;
  }
}

/**
 * The last answer built for each key object (an entitlement the store holds), reused while the inputs
 * the answer shows are the same as when it was built, and gone with the key. For answers that change
 * only when their entitlement or its usage changes: the same customer asking the same question again.
 * Bounded: the store may hold a million entitlements, so past `max` answers built the table starts over.
 */
export class LastAnswerPerKey<K extends object, I, T extends object> {
  private slots = new WeakMap<K, { inputs: I; answer: T }>();
  private built = 0;

  constructor(
    private readonly build: (inputs: I) => T,
    /** True when an answer built from `a` is exactly the one `b` would build. */
    private readonly same: (a: I, b: I) => boolean,
    private readonly max = 10_000,
  ) {}

  get(key: K, inputs: I): T {
    const slot = this.slots.get(key);
    if (slot !== undefined && this.same(slot.inputs, inputs)) return slot.answer;
    if (this.built >= this.max) {
      this.slots = new WeakMap();
      this.built = 0;
    }
    const answer = freezeDeep(this.build(inputs));
    this.slots.set(key, { inputs, answer });
    this.built++;
    return answer;
  }
}
