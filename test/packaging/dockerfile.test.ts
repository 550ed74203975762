// The control-plane image without a container engine: every path the Dockerfile COPYs exists and
// survives .dockerignore, the runtime stage's file layout is rebuilt in a temp directory (the compiled
// dist/ from `npm run build:control`, the built .wasm, the runtime files) and the ENTRYPOINT runs there
// without tsx or sources: version, envoy-config, validate, and serve until ready, probed with the exact
// HEALTHCHECK command, then drained by SIGTERM.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { cleanEnv, exited, LogLines, ROOT } from "../cli/support/runCli.ts";
import { SERVER_NODE_FLAGS } from "../bench/serverNodeFlags.ts";

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

function instructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, " ");
  const out: Instruction[] = [];
  let stage = -1;
  for (const line of joined.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const [op, ...rest] = trimmed.split(/\s+/);
    if (op!.toUpperCase() === "FROM") stage++;
    out.push({ op: op!.toUpperCase(), args: rest.join(" "), stage });
  }
  return out;
}

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
  stage: number;
}

function copies(list: Instruction[]): Copy[] {
  return list.filter((i) => i.op === "COPY").map((i) => {
    const parts = i.args.split(/\s+/);
    const from = parts.find((p) => p.startsWith("--from="))?.slice("--from=".length);
    const paths = parts.filter((p) => !p.startsWith("--"));
    return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths[paths.length - 1]!, stage: i.stage };
  });
}

/** Docker's .dockerignore rules for the patterns we use: last match wins, `!` re-includes, `*` is one segment. */
function ignored(path: string, patterns: string[]): boolean {
  let result = false;
  for (const raw of patterns) {
    const negate = raw.startsWith("!");
    const pattern = negate ? raw.slice(1) : raw;
    const regex = new RegExp("^" + pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*") + "(/.*)?$");
    if (regex.test(path)) result = !negate;
  }
  return result;
}

const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const list = instructions(dockerfile);
const runtimeStage = Math.max(...list.map((i) => i.stage));
const ignorePatterns = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

/** What the build stage leaves at each path it is asked for (the repository's equivalents). */
function buildStageOutput(path: string, dist: string): string {
  const rel = relative("/src", path);
  if (rel === "dist") return dist;
  return join(ROOT, rel);
}

describe("Dockerfile", () => {
  let work: string;
  let app: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), "eg-image-"));
    app = join(work, "app");
    mkdirSync(app);
    try {
      execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.build.json"), "--outDir", join(work, "dist")], { cwd: ROOT, stdio: "pipe" });
    } catch (err) {
      // tsc still emits on type errors (those are the typecheck step's business); only a missing output fails here.
      if (!existsSync(join(work, "dist/control/cli/main.js"))) throw err;
    }
    for (const copy of copies(list).filter((c) => c.stage === runtimeStage)) {
      for (const source of copy.sources) {
        const from = copy.from ? buildStageOutput(source, join(work, "dist")) : join(ROOT, source);
        // Docker: a file copied to a destination ending in "/" keeps its name inside it.
        const to = copy.dest.endsWith("/") && statSync(from).isFile() ? join(app, copy.dest, basename(source)) : join(app, copy.dest);
        mkdirSync(dirname(to), { recursive: true });
        // node_modules is linked, not copied: the image prunes dev dependencies, checked separately below.
        if (source.endsWith("node_modules")) symlinkSync(from, to, "dir");
        else cpSync(from, to, { recursive: true });
      }
    }
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it("has two stages and runs as a numeric non-root user with a HEALTHCHECK on /livez", () => {
    assert.equal(runtimeStage, 1);
    const runtime = list.filter((i) => i.stage === runtimeStage);
    const user = runtime.find((i) => i.op === "USER")?.args ?? "";
    assert.match(user, /^[1-9]\d*(:\d+)?$/, "numeric, not root");
    assert.match(runtime.find((i) => i.op === "HEALTHCHECK")?.args ?? "", /\/livez/);
    assert.ok(!runtime.some((i) => i.op === "RUN"), "nothing runs in the runtime stage (no shell, no package manager needed)");
  });

  it("copies only paths that exist in the build context and are not excluded by .dockerignore", () => {
    for (const copy of copies(list).filter((c) => !c.from)) {
      for (const source of copy.sources) {
        assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: exists`);
        assert.ok(!ignored(source.replace(/^\.\//, ""), ignorePatterns), `COPY ${source}: not excluded by .dockerignore`);
      }
    }
    assert.ok(ignored("node_modules", ignorePatterns) && ignored("test/cli", ignorePatterns) && ignored("test/host/fixtures", ignorePatterns), "local state stays out of the context");
  });

  it("copies from the build stage only what its RUN steps produce", () => {
    const run = list.filter((i) => i.stage === 0 && i.op === "RUN").map((i) => i.args).join(" ");
    const produced: Record<string, RegExp> = { "/src/dist": /npm run build:control/, "/src/build/entitlement_gate.wasm": /asc filter\/assembly\/index\.ts --target release/, "/src/node_modules": /npm ci/ };
    for (const copy of copies(list).filter((c) => c.from === "build")) {
      for (const source of copy.sources) assert.match(run, produced[source] ?? /^$/, `${source} is produced by the build stage`);
    }
    assert.match(run, /npm prune --omit=dev/);
  });

  it("needs only production dependencies at run time", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const closure = new Set<string>();
    const queue = Object.keys(pkg.dependencies);
    while (queue.length > 0) {
      const name = queue.pop()!;
      if (closure.has(name)) continue;
      closure.add(name);
      const manifest = join(ROOT, "node_modules", name, "package.json");
      if (existsSync(manifest)) queue.push(...Object.keys((JSON.parse(readFileSync(manifest, "utf8")) as { dependencies?: Record<string, string> }).dependencies ?? {}));
    }
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith(".js")) files.push(path);
      }
    };
    walk(join(app, "dist"));
    files.push(join(app, "bin/entitlement-gate.js"));
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(/(?:from |import\()"([^".][^"]*)"/g)) {
        const specifier = match[1]!;
        if (specifier.startsWith("node:") || builtinModules.includes(specifier)) continue;
        const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]!;
        // The launcher tries tsx first and falls back to dist/ when it is absent (as in the image).
        if (file.endsWith("entitlement-gate.js") && name === "tsx") continue;
        assert.ok(closure.has(name), `${relative(app, file)} imports ${name}, which a production install has`);
      }
    }
  });

  it("carries every file the control plane reads through shippedFile()", () => {
    const referenced = new Set<string>(["package.json", "build/entitlement_gate.wasm"]);
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith(".ts")) {
          const text = readFileSync(path, "utf8");
          for (const m of text.matchAll(/shippedFile\(\s*[`"]([^`"$]+)[`"]/g)) referenced.add(m[1]!);
          for (const m of text.matchAll(/"(control\/[\w./-]+\.(?:html|yaml|json|proto|css))"/g)) referenced.add(m[1]!);
        }
      }
    };
    walk(join(ROOT, "control"));
    for (const path of referenced) assert.ok(existsSync(join(app, path)), `${path} is in the image`);
  });

  it("runs the ENTRYPOINT from the compiled layout: version, envoy-config and validate", () => {
    assert.ok(!existsSync(join(app, "control/cli/main.ts")), "no TypeScript sources in the image");
    const entry = list.filter((i) => i.stage === runtimeStage && i.op === "ENTRYPOINT").map((i) => JSON.parse(i.args) as string[])[0]!;
    assert.deepEqual(entry, ["node", ...SERVER_NODE_FLAGS, "bin/entitlement-gate.js"]);
    const run = (args: string[]): string => execFileSync(process.execPath, [...entry.slice(1), ...args], { cwd: app, env: cleanEnv(), encoding: "utf8" });
    assert.equal(run(["--version"]).trim(), (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
    assert.equal(run(["envoy-config"]), readFileSync(join(ROOT, "envoy/standalone/envoy.yaml"), "utf8"));
    cpSync(join(ROOT, "envoy/istio/wasmplugin-lease.yaml"), join(work, "lease.yaml"));
    assert.match(run(["validate", "--envoy-config", join(work, "lease.yaml"), "--entitlements", "control/defaults/entitlements.yaml"]), /^valid: 2 checked/);
  });

  it("serves from the compiled layout, passes its HEALTHCHECK and drains on SIGTERM", async () => {
    const env = Object.fromEntries(
      list.filter((i) => i.stage === runtimeStage && i.op === "ENV").flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
    );
    assert.equal(env.GRPC_PORT, "8081");
    const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, "bin/entitlement-gate.js", "serve"], { cwd: app, env: cleanEnv({ ...env, SYNC_PORT: "0", GRPC_PORT: "0", HTTP_PORT: "0", BIND_ADDRESS: "127.0.0.1" }) });
    const logs = new LogLines(child);
    try {
      const ready = await logs.waitFor("the ready line", (l) => typeof l.msg === "string" && l.msg.includes("control plane ready"));
      assert.match(String(ready.source), /control\/defaults\/entitlements\.yaml/);
      const healthcheck = list.find((i) => i.op === "HEALTHCHECK")!.args.replace(/^.*CMD\s+/, "");
      const [cmd, ...args] = JSON.parse(healthcheck) as string[];
      assert.equal(cmd, "node");
      execFileSync(process.execPath, args, { env: cleanEnv({ HTTP_PORT: String(ready.httpPort) }) });
      child.kill("SIGTERM");
      assert.equal((await exited(child)).code, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
