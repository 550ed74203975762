// `npm run package:wasm`: the filter as an OCI image layout on disk (build/oci/), ready for
// `skopeo copy oci:build/oci:<tag> docker://REGISTRY/entitlement-gate-filter:<tag>` (or `crane push`,
// `oras cp --from-oci-layout`) and for an Istio WasmPlugin `url: oci://...`. Written from Node: no
// container engine needed.
//
// Why the "compat" variant (one tar+gzip layer holding /plugin.wasm, manifest annotation
// module.wasm.image/variant=compat): Istio's image fetcher accepts it and the Wasm-artifact variant
// (a single application/vnd.module.wasm.content.layer.v1+wasm layer), but only compat uses standard
// image media types, so every registry, `docker pull`, skopeo, crane and Kubernetes image volumes
// handle it too. It is what `FROM scratch` + `COPY plugin.wasm ./` builds, bit for bit in structure.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export const WASM_FILE_NAME = "plugin.wasm";
export const VARIANT_ANNOTATION = "module.wasm.image/variant";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface WasmImageOptions {
  wasm: Uint8Array;
  outDir: string;
  /** The tag (org.opencontainers.image.ref.name in index.json). */
  tag: string;
  /** Source/version annotations. */
  version: string;
  /** Seconds since the epoch for the file mtime and `created`; fixed so builds are reproducible. */
  createdEpochSeconds: number;
}

export interface WasmImage {
  index: Descriptor;
  manifest: Descriptor;
  config: Descriptor;
  layer: Descriptor;
  /** sha256 of the uncompressed layer tar (the config's rootfs diff_id). */
  diffId: string;
}

function sha256(bytes: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** A ustar archive with one regular file (owner root, mode 0644). */
export function tarOneFile(name: string, data: Uint8Array, mtimeSeconds: number): Buffer {
  const header = Buffer.alloc(512, 0);
  header.write(name, 0, 100, "utf8");
  header.write(octal(0o644, 8), 100, "ascii");
  header.write(octal(0, 8), 108, "ascii");
  header.write(octal(0, 8), 116, "ascii");
  header.write(octal(data.length, 12), 124, "ascii");
  header.write(octal(mtimeSeconds, 12), 136, "ascii");
  header.write("        ", 148, "ascii");
  header.write("0", 156, "ascii");
  header.write("ustar\0", 257, "ascii");
  header.write("00", 263, "ascii");
  header.write("root", 265, "ascii");
  header.write("root", 297, "ascii");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512, 0);
  return Buffer.concat([header, Buffer.from(data), padding, Buffer.alloc(1024, 0)]);
}

function writeBlob(outDir: string, bytes: Uint8Array, mediaType: string, annotations?: Record<string, string>): Descriptor {
  const digest = sha256(bytes);
  writeFileSync(join(outDir, "blobs", "sha256", digest.slice("sha256:".length)), bytes);
  return { mediaType, digest, size: bytes.length, ...(annotations ? { annotations } : {}) };
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

export function writeWasmImage(options: WasmImageOptions): WasmImage {
  rmSync(options.outDir, { recursive: true, force: true });
  mkdirSync(join(options.outDir, "blobs", "sha256"), { recursive: true });
  const created = new Date(options.createdEpochSeconds * 1000).toISOString();

  const tar = tarOneFile(WASM_FILE_NAME, options.wasm, options.createdEpochSeconds);
  const diffId = sha256(tar);
  // gzip header mtime 0 and no file name, so equal inputs give equal digests.
  const layer = writeBlob(options.outDir, gzipSync(tar, { level: 9 }), MEDIA_TYPES.layer, { "org.opencontainers.image.title": WASM_FILE_NAME });
  const config = writeBlob(
    options.outDir,
    json({
      created,
      architecture: "amd64",
      os: "linux",
      config: { Labels: { "org.opencontainers.image.title": "entitlement-gate-filter" } },
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [{ created, created_by: "npm run package:wasm (scripts/ociWasmImage.ts)" }],
    }),
    MEDIA_TYPES.config,
  );
  const manifest = writeBlob(
    options.outDir,
    json({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config,
      layers: [layer],
      annotations: {
        [VARIANT_ANNOTATION]: "compat",
        "org.opencontainers.image.title": "entitlement-gate-filter",
        "org.opencontainers.image.description": "entitlement-gate proxy-wasm filter (root_ids entitlement_gate and entitlement_sync)",
        "org.opencontainers.image.version": options.version,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.licenses": "Apache-2.0",
      },
    }),
    MEDIA_TYPES.manifest,
    { "org.opencontainers.image.ref.name": options.tag },
  );
  const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [manifest] };
  const indexBytes = json(index);
  writeFileSync(join(options.outDir, "index.json"), indexBytes);
  writeFileSync(join(options.outDir, "oci-layout"), json({ imageLayoutVersion: "1.0.0" }));
  return { index: { mediaType: MEDIA_TYPES.index, digest: sha256(indexBytes), size: indexBytes.length }, manifest, config, layer, diffId };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(import.meta.url), "../..");
  const wasmPath = process.env.WASM ?? join(root, "build/entitlement_gate.wasm");
  const outDir = process.env.OCI_OUT ?? join(root, "build/oci");
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
  let wasm: Uint8Array;
  try {
    wasm = readFileSync(wasmPath);
  } catch {
    process.stderr.write(`${wasmPath} is missing: run npm run build:filter first\n`);
    process.exit(1);
  }
  const image = writeWasmImage({
    wasm,
    outDir,
    tag: process.env.OCI_TAG ?? version,
    version,
    createdEpochSeconds: Number(process.env.SOURCE_DATE_EPOCH ?? 0),
  });
  process.stdout.write(
    `wrote ${outDir} (OCI image layout, compat Wasm variant)\n` +
      `  manifest ${image.manifest.digest}\n  layer    ${image.layer.digest} (${WASM_FILE_NAME}, ${wasm.length} bytes)\n` +
      `push:  skopeo copy oci:${outDir}:${process.env.OCI_TAG ?? version} docker://REGISTRY/entitlement-gate-filter:${process.env.OCI_TAG ?? version}\n`,
  );
}
