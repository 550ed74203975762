// A setting that names a file the control plane reads (entitlements file, TLS certificate, key or CA): checked
// when the settings are parsed so a wrong path is reported at start, not when the file is first needed.
import { accessSync, constants } from "node:fs";
import { resolve } from "node:path";
import type { Parsed } from "./settings.ts";

/** The absolute path of `raw` if this process can read it, else why not (the errno code). */
export function readableFile(raw: string): Parsed<string> {
  const path = resolve(raw);
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    return { error: `${JSON.stringify(raw)} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  return { value: path };
}
