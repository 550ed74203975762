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
