// The filter's OCI image (npm run package:wasm) as a registry client and Istio's fetcher read it:
// index -> manifest -> config and one gzip tar layer whose plugin.wasm is exactly the built module.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { MEDIA_TYPES, VARIANT_ANNOTATION, WASM_FILE_NAME, writeWasmImage } from "../../scripts/ociWasmImage.ts";
import { loadFilterWasm } from "../filter/support/builtWasm.ts";
import { ROOT } from "../cli/support/runCli.ts";

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

const sha256 = (bytes: Uint8Array): string => "sha256:" + createHash("sha256").update(bytes).digest("hex");

/** Reads a blob and checks it against its descriptor, as a registry client must. */
function blob(dir: string, d: Descriptor): Buffer {
  assert.match(d.digest, /^sha256:[0-9a-f]{64}$/);
  const bytes = readFileSync(join(dir, "blobs", "sha256", d.digest.slice(7)));
  assert.equal(bytes.length, d.size, `${d.mediaType}: size`);
  assert.equal(sha256(bytes), d.digest, `${d.mediaType}: digest`);
  return bytes;
}

/** The regular files of a ustar archive, by name. */
function untar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(header.subarray(124, 136).toString("ascii").replace(/\0.*$/s, "").trim(), 8);
    const stored = parseInt(header.subarray(148, 156).toString("ascii").replace(/[\0 ].*$/s, ""), 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
    assert.equal(sum, stored, `${name}: header checksum`);
    if (header[156] === 0x30 || header[156] === 0) files.set(name, tar.subarray(offset + 512, offset + 512 + size));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

describe("filter OCI image", () => {
  const wasm = loadFilterWasm();
  let dir: string;
  let image: ReturnType<typeof writeWasmImage>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "eg-oci-"));
    image = writeWasmImage({ wasm, outDir: join(dir, "oci"), tag: "1.2.3", version: "1.2.3", createdEpochSeconds: 0 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("is an OCI image layout with an index naming the tag", () => {
    const layout = join(dir, "oci");
    assert.deepEqual(JSON.parse(readFileSync(join(layout, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { schemaVersion: number; mediaType: string; manifests: Descriptor[] };
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, MEDIA_TYPES.index);
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0]!.mediaType, MEDIA_TYPES.manifest);
    assert.equal(index.manifests[0]!.annotations?.["org.opencontainers.image.ref.name"], "1.2.3");
    assert.equal(readdirSync(join(layout, "blobs", "sha256")).length, 3, "manifest, config and one layer");
  });

  it("has a compat-variant manifest with one gzip tar layer holding exactly the built plugin.wasm", () => {
    const layout = join(dir, "oci");
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: Descriptor[] };
    const manifest = JSON.parse(blob(layout, index.manifests[0]!).toString()) as { schemaVersion: number; mediaType: string; config: Descriptor; layers: Descriptor[]; annotations: Record<string, string> };
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, MEDIA_TYPES.manifest);
    assert.equal(manifest.annotations[VARIANT_ANNOTATION], "compat", "Istio reads an OCI tar+gzip layer as the compat variant");
    assert.equal(manifest.config.mediaType, MEDIA_TYPES.config);
    assert.equal(manifest.layers.length, 1);
    assert.equal(manifest.layers[0]!.mediaType, MEDIA_TYPES.layer);

    const tar = gunzipSync(blob(layout, manifest.layers[0]!));
    const files = untar(tar);
    assert.deepEqual([...files.keys()], [WASM_FILE_NAME]);
    assert.ok(Buffer.compare(files.get(WASM_FILE_NAME)!, Buffer.from(wasm)) === 0, "the layer's plugin.wasm is the built module byte for byte");

    const config = JSON.parse(blob(layout, manifest.config).toString()) as { rootfs: { type: string; diff_ids: string[] }; os: string; architecture: string };
    assert.deepEqual(config.rootfs, { type: "layers", diff_ids: [sha256(tar)] }, "diff_id is the uncompressed layer's digest");
    assert.equal(image.diffId, sha256(tar));
  });

  it("is reproducible: the same module gives the same manifest digest", () => {
    const again = writeWasmImage({ wasm, outDir: join(dir, "again"), tag: "1.2.3", version: "1.2.3", createdEpochSeconds: 0 });
    assert.equal(again.manifest.digest, image.manifest.digest);
  });

  it("is what npm run package:wasm writes", () => {
    const out = join(dir, "script");
    // A private copy: the build may be rewritten while tests run.
    const module = join(dir, "module.wasm");
    writeFileSync(module, wasm);
    execFileSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts/ociWasmImage.ts")], { cwd: ROOT, env: { ...process.env, WASM: module, OCI_OUT: out, OCI_TAG: "test" }, stdio: "pipe" });
    const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8")) as { manifests: Descriptor[] };
    const manifest = JSON.parse(blob(out, index.manifests[0]!).toString()) as { layers: Descriptor[] };
    assert.equal(manifest.layers[0]!.digest, image.layer.digest, "same module, same layer");
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    assert.match(pkg.scripts["package:wasm"] ?? "", /scripts\/ociWasmImage\.ts/);
  });
});
