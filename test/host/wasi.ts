// The WASI subset Envoy provides (same functions under wasi_snapshot_preview1 and wasi_unstable).
import { randomFillSync } from "node:crypto";
import { LogLevel, WasiErrno } from "./abi.ts";
import { MemoryAccessError, type WasmVm } from "./vm.ts";

const RANDOM_GET_MAX_BYTES = 64 * 1024;
const encoder = new TextEncoder();

type WasiFn = (...args: never[]) => number | void;

export function buildWasiImports(vm: WasmVm): Record<string, WasiFn> {
  const environment = () => vm.plugin.environment.map(([k, v]) => encoder.encode(`${k}=${v}\0`));
  const fns: Record<string, (...args: Array<number | bigint>) => number | void> = {
    fd_write(fd, iovs, iovsLen, writtenPtr) {
      const f = Number(fd);
      if (f !== 1 && f !== 2) return WasiErrno.BADF;
      const parts: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < Number(iovsLen); i++) {
        const iov = vm.view(Number(iovs) + i * 8, 8);
        const dv = new DataView(iov.buffer, iov.byteOffset, 8);
        const ptr = dv.getUint32(0, true);
        const len = dv.getUint32(4, true);
        parts.push(vm.copy(ptr, len));
        total += len;
      }
      if (total > 0) vm.log(f === 1 ? LogLevel.info : LogLevel.error, Buffer.concat(parts).toString("utf8").replace(/\n$/, ""));
      vm.writeU32(Number(writtenPtr), total);
      return WasiErrno.SUCCESS;
    },
    fd_read() {
      return WasiErrno.NOSYS;
    },
    fd_seek() {
      return WasiErrno.NOSYS;
    },
    fd_close() {
      return WasiErrno.NOSYS;
    },
    fd_fdstat_get(fd, statPtr) {
      const f = Number(fd);
      if (f !== 1 && f !== 2) return WasiErrno.BADF;
      const stat = new Uint8Array(24);
      stat[0] = 2; // character device
      new DataView(stat.buffer).setBigUint64(8, 0xffffffffffffffffn, true);
      vm.writeBytes(Number(statPtr), stat);
      return WasiErrno.SUCCESS;
    },
    fd_prestat_get() {
      return WasiErrno.BADF;
    },
    fd_prestat_dir_name() {
      return WasiErrno.NOSYS;
    },
    path_open() {
      return 44; // NOENT, as cpp-host
    },
    environ_sizes_get(countPtr, sizePtr) {
      const env = environment();
      vm.writeU32(Number(countPtr), env.length);
      vm.writeU32(Number(sizePtr), env.reduce((n, e) => n + e.length, 0));
      return WasiErrno.SUCCESS;
    },
    environ_get(environPtr, bufPtr) {
      let buf = Number(bufPtr);
      environment().forEach((entry, i) => {
        vm.writeU32(Number(environPtr) + i * 4, buf);
        vm.writeBytes(buf, entry);
        buf += entry.length;
      });
      return WasiErrno.SUCCESS;
    },
    args_sizes_get(countPtr, sizePtr) {
      vm.writeU32(Number(countPtr), 0);
      vm.writeU32(Number(sizePtr), 0);
      return WasiErrno.SUCCESS;
    },
    args_get() {
      return WasiErrno.SUCCESS;
    },
    clock_time_get(id, _precision, outPtr) {
      let ns: bigint;
      if (Number(id) === 0) ns = BigInt(Math.floor(vm.runtime.clock.nowMs())) * 1_000_000n;
      else if (Number(id) === 1) ns = process.hrtime.bigint();
      else return WasiErrno.NOTSUP;
      vm.writeU64(Number(outPtr), ns);
      return WasiErrno.SUCCESS;
    },
    random_get(ptr, len) {
      if (Number(len) > RANDOM_GET_MAX_BYTES) return WasiErrno.INVAL;
      const bytes = new Uint8Array(Number(len));
      randomFillSync(bytes);
      vm.writeBytes(Number(ptr), bytes);
      return WasiErrno.SUCCESS;
    },
    proc_exit(code) {
      // Envoy only logs; the module usually traps right after (unreachable).
      vm.log(LogLevel.error, `wasi proc_exit(${Number(code)})`);
    },
  };
  const out: Record<string, WasiFn> = {};
  for (const [name, fn] of Object.entries(fns)) {
    out[name] = ((a: number, b: number | bigint, c: number, d: number, e: number, f: number, g: bigint, h: bigint, i: number) => {
      vm.hostCallCount++;
      try {
        return fn(a, b, c, d, e, f, g, h, i);
      } catch (err) {
        // A pointer outside memory is EFAULT in WASI, not a trap.
        if (err instanceof MemoryAccessError) return WasiErrno.FAULT;
        throw err;
      }
    }) as WasiFn;
  }
  return out;
}
