// Shared-secret bearer tokens (`authorization: Bearer <token>`), compared in constant time. Both sides are
// hashed first so that timingSafeEqual sees equal lengths and the comparison leaks neither the token
// nor its length.
import { createHash, timingSafeEqual } from "node:crypto";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

export class BearerToken {
  private readonly expected: Buffer;

  constructor(token: string) {
    if (token.length === 0) throw new RangeError("a bearer token must not be empty");
    this.expected = digest(token);
  }

  /** True when `authorization` is `Bearer <the token>` (scheme case-insensitive, as RFC 6750 allows). */
  accepts(authorization: string | undefined): boolean {
    const presented = bearerCredentials(authorization);
    // Hash something even without a token so a missing header costs the same as a wrong one.
    return timingSafeEqual(digest(presented ?? ""), this.expected) && presented !== undefined;
  }
}

export function bearerCredentials(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(authorization);
  return match?.[1];
}

/** What a settings value must look like: an HTTP token68-ish value, so it survives headers and metadata. */
export function isUsableToken(raw: string): boolean {
  return /^[A-Za-z0-9\-._~+/]+=*$/.test(raw) && raw.length >= 16 && raw.length <= 4096;
}
