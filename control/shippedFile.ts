// Files the control plane reads at run time (the .proto, the demo catalogue) live in the source
// tree; when running from a compiled dist/ they are not next to the module, so look upward.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The absolute path of `pathFromRoot` (e.g. "proto/x.proto") in the nearest ancestor that has it. */
export function shippedFile(pathFromRoot: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, pathFromRoot);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return join(dirname(here), pathFromRoot);
  }
}
