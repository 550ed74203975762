// Compiles an AssemblyScript test entry in memory with the asc API and instantiates it with only an
// `env.abort` that throws, so a trap or abort in the code under test fails the calling test.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

const repoRoot = resolve(import.meta.dirname, "../../..");

export interface SpecModule {
  /** Calls an export, lowering string arguments and lifting a string result. */
  call(name: string, ...args: Array<string | number | bigint>): string;
  callNumber(name: string, ...args: Array<string | number | bigint>): number;
}

interface SpecExports {
  memory: WebAssembly.Memory;
  __new(size: number, classId: number): number;
  __pin(ptr: number): number;
  __unpin(ptr: number): void;
  [name: string]: unknown;
}

const cacheDir = resolve(repoRoot, "build/test-cache");

async function listSources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const item of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, item.name);
    if (item.isDirectory()) out.push(...(await listSources(path)));
    else if (item.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/**
 * Loading the compiler alone takes seconds, so the binary is cached under build/test-cache, keyed by
 * the spec, every filter source and the compiler version.
 */
async function cacheKey(entry: string): Promise<string> {
  const hash = createHash("sha256");
  const ascPackage = await readFile(resolve(repoRoot, "node_modules/assemblyscript/package.json"), "utf8");
  hash.update((JSON.parse(ascPackage) as { version: string }).version);
  for (const file of [resolve(repoRoot, entry), ...(await listSources(resolve(repoRoot, "filter/assembly")))]) {
    hash.update(file).update(await readFile(file));
  }
  return hash.digest("hex").slice(0, 24);
}

/** `entry` is a repo-relative file with any extension; asc sees it under a virtual `.ts` name. */
export async function compileSpec(entry: string): Promise<SpecModule> {
  const cachePath = join(cacheDir, `spec-${await cacheKey(entry)}.wasm`);
  let binary: Uint8Array | undefined;
  try {
    binary = new Uint8Array(await readFile(cachePath));
  } catch {
    binary = await compileWithAsc(entry);
    await mkdir(cacheDir, { recursive: true });
    await writeFile(cachePath, binary);
  }
  return instantiateSpec(binary);
}

async function compileWithAsc(entry: string): Promise<Uint8Array> {
  return compileAssemblyScript(entry, ["--outFile", "spec.wasm", "--runtime", "incremental", "--exportRuntime", "-O1"]);
}

/**
 * Compiles a repo-relative AssemblyScript entry (any extension: asc sees it under a virtual `.ts` name in
 * the same folder, so its relative imports resolve) in memory with the given asc options, and returns
 * the binary. Nothing is written to disk; asconfig.json is ignored so only `options` apply.
 */
export async function compileAssemblyScript(entry: string, options: readonly string[]): Promise<Uint8Array> {
  const { default: asc } = await import("assemblyscript/asc");
  const virtualName = entry.replace(/\.[^./]+$/, "") + ".virtual.ts";
  const entryPath = resolve(repoRoot, entry);
  let binary: Uint8Array | undefined;
  let errors = "";
  const result = await asc.main(
    [virtualName, "--baseDir", repoRoot, ...options, "--noColors"],
    {
      // asc runs with the repo root as its base directory.
      readFile: async (name: string, baseDir: string) => {
        if (name === "asconfig.json") return null;
        try {
          return await readFile(name === virtualName ? entryPath : resolve(baseDir, name), "utf8");
        } catch {
          return null;
        }
      },
      writeFile: async (name: string, contents: Uint8Array | string) => {
        if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents;
      },
      listFiles: async () => [],
      stdout: { write: () => true } as unknown as NodeJS.WritableStream,
      stderr: { write: (text: string | Uint8Array) => { errors += String(text); return true; } } as unknown as NodeJS.WritableStream,
    } as unknown as Parameters<typeof asc.main>[1],
  );
  if (result.error || binary === undefined) throw new Error(`compiling ${entry} failed: ${result.error?.message ?? ""}\n${errors}`);
  return binary;
}

async function instantiateSpec(binary: Uint8Array): Promise<SpecModule> {
  let exports: SpecExports | undefined;
  const liftString = (ptr: number): string => {
    if (exports === undefined || ptr === 0) return "";
    const buffer = exports.memory.buffer;
    const byteLength = new Uint32Array(buffer, ptr - 4, 1)[0] ?? 0;
    return Buffer.from(new Uint8Array(buffer, ptr, byteLength)).toString("utf16le");
  };
  const module = await WebAssembly.compile(new Uint8Array(binary));
  const instance = await WebAssembly.instantiate(module, {
    env: {
      abort(message: number, file: number, line: number, column: number) {
        throw new Error(`abort: ${liftString(message)} at ${liftString(file)}:${line}:${column}`);
      },
    },
  });
  exports = instance.exports as unknown as SpecExports;
  const ex = exports;

  const lower = (value: string): number => {
    const bytes = Buffer.from(value, "utf16le");
    const ptr = ex.__pin(ex.__new(bytes.length, 2));
    new Uint8Array(ex.memory.buffer, ptr, bytes.length).set(bytes);
    return ptr;
  };
  const invoke = (name: string, args: Array<string | number | bigint>): unknown => {
    const fn = ex[name];
    if (typeof fn !== "function") throw new Error(`spec has no export ${name}`);
    const pinned: number[] = [];
    const lowered = args.map((a) => {
      if (typeof a !== "string") return a;
      const ptr = lower(a);
      pinned.push(ptr);
      return ptr;
    });
    try {
      return (fn as (...a: unknown[]) => unknown)(...lowered);
    } finally {
      for (const ptr of pinned) ex.__unpin(ptr);
    }
  };
  return {
    call: (name, ...args) => liftString(invoke(name, args) as number),
    callNumber: (name, ...args) => Number(invoke(name, args)),
  };
}
