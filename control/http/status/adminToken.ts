// Bearer-token check for the admin view of the status page. Both sides are hashed first so the
// comparison is constant-time whatever the lengths (timingSafeEqual needs equal lengths).
import { createHash, timingSafeEqual } from "node:crypto";

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

export type AdminCheck = "admin" | "anonymous" | "refused";

/**
 * `admin` for `Bearer <token>` matching; `anonymous` without an Authorization header; `refused` for
 * any other credentials, including any at all when no token is configured (the admin view is off).
 */
export function checkAdmin(authorization: string | undefined, token: string | undefined): AdminCheck {
  if (authorization === undefined || authorization === "") return "anonymous";
  if (token === undefined || token === "") return "refused";
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization);
  if (!match) return "refused";
  return timingSafeEqual(digest(match[1]!), digest(token)) ? "admin" : "refused";
}
