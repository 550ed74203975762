// Host properties (`plugin_root_id`, `request.path`, ...). Path segments are NUL-separated.
import { proxy_get_property } from "./imports";
import { Status } from "./constants";
import { OUT_PTR, OUT_SIZE, clearOutSlots, discardHostBytes, takeHostBytes } from "./memory";

export function getPropertyBytes(path: string[]): ArrayBuffer | null {
  const joined = path.join("\0");
  const key = String.UTF8.encode(joined);
  clearOutSlots();
  const status = proxy_get_property(changetype<usize>(key), <usize>key.byteLength, OUT_PTR, OUT_SIZE);
  if (status != Status.OK) {
    discardHostBytes();
    return null;
  }
  return takeHostBytes();
}

export function getPropertyString(path: string[]): string | null {
  const bytes = getPropertyBytes(path);
  return bytes === null ? null : String.UTF8.decode(bytes);
}
