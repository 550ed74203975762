// Header and trailer maps of the current stream (and of gRPC/HTTP call responses).
import {
  proxy_add_header_map_value, proxy_get_header_map_pairs, proxy_get_header_map_value,
  proxy_remove_header_map_value, proxy_replace_header_map_value, proxy_set_header_map_pairs,
} from "./imports";
import { Status } from "./constants";
import { HostScratch, OUT_PTR, OUT_SIZE, clearOutSlots, discardHostBytes, dropScratch, fillScratch, takeHostBytes, takeScratch } from "./memory";
import { HeaderMapView, HeaderPair, serializeHeaderMap } from "./headerMapCodec";
import { logDebug } from "./log";

/** All pairs of a map in one host call; null when the host refuses (wrong phase, unknown map). */
export function getHeaderMapView(mapType: i32): HeaderMapView | null {
  clearOutSlots();
  const status = proxy_get_header_map_pairs(mapType, OUT_PTR, OUT_SIZE);
  if (status != Status.OK) {
    discardHostBytes();
    logDebug("proxy_get_header_map_pairs(" + mapType.toString() + ") returned status " + status.toString());
    return null;
  }
  return new HeaderMapView(takeHostBytes());
}

/**
 * The hot-path variant: the pairs are copied into `scratch` and `view` is re-read over them, so nothing
 * is allocated once both have grown to the usual size. False when the host refuses.
 */
export function readHeaderMapInto(mapType: i32, scratch: HostScratch, view: HeaderMapView): bool {
  fillScratch(scratch);
  const status = proxy_get_header_map_pairs(mapType, OUT_PTR, OUT_SIZE);
  if (status != Status.OK) {
    dropScratch(scratch);
    logDebug("proxy_get_header_map_pairs(" + mapType.toString() + ") returned status " + status.toString());
    return false;
  }
  takeScratch(scratch);
  view.reset(scratch.buffer, scratch.length);
  return true;
}

export function getHeaderPairs(mapType: i32): HeaderPair[] {
  const view = getHeaderMapView(mapType);
  return view === null ? new Array<HeaderPair>(0) : view.toPairs();
}

/** The value of one header, or null when it is absent (NOT_FOUND) or the map cannot be read. */
export function getHeader(mapType: i32, name: string): string | null {
  const key = String.UTF8.encode(name);
  clearOutSlots();
  const status = proxy_get_header_map_value(mapType, changetype<usize>(key), <usize>key.byteLength, OUT_PTR, OUT_SIZE);
  if (status != Status.OK) {
    discardHostBytes();
    return null;
  }
  return String.UTF8.decode(takeHostBytes());
}

export function addHeader(mapType: i32, name: string, value: string): bool {
  const key = String.UTF8.encode(name);
  const bytes = String.UTF8.encode(value);
  return addHeaderRaw(mapType, changetype<usize>(key), key.byteLength, changetype<usize>(bytes), bytes.byteLength);
}

export function addHeaderRaw(mapType: i32, keyPtr: usize, keyLength: i32, valuePtr: usize, valueLength: i32): bool {
  const status = proxy_add_header_map_value(mapType, keyPtr, <usize>keyLength, valuePtr, <usize>valueLength);
  if (status != Status.OK) logDebug("proxy_add_header_map_value returned status " + status.toString());
  return status == Status.OK;
}

export function replaceHeader(mapType: i32, name: string, value: string): bool {
  const key = String.UTF8.encode(name);
  const bytes = String.UTF8.encode(value);
  const status = proxy_replace_header_map_value(
    mapType, changetype<usize>(key), <usize>key.byteLength, changetype<usize>(bytes), <usize>bytes.byteLength);
  if (status != Status.OK) logDebug("proxy_replace_header_map_value returned status " + status.toString());
  return status == Status.OK;
}

export function removeHeader(mapType: i32, name: string): bool {
  const key = String.UTF8.encode(name);
  return removeHeaderRaw(mapType, changetype<usize>(key), key.byteLength);
}

export function removeHeaderRaw(mapType: i32, keyPtr: usize, keyLength: i32): bool {
  const status = proxy_remove_header_map_value(mapType, keyPtr, <usize>keyLength);
  if (status != Status.OK) logDebug("proxy_remove_header_map_value returned status " + status.toString());
  return status == Status.OK;
}

export function setHeaderPairs(mapType: i32, pairs: HeaderPair[]): bool {
  const bytes = serializeHeaderMap(pairs);
  const status = proxy_set_header_map_pairs(mapType, changetype<usize>(bytes), <usize>bytes.byteLength);
  return status == Status.OK;
}
