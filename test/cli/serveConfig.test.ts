// `serve` takes its settings from flags, the environment and a --config YAML file, in that order.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, exited, LogLines, runCli, startCli } from "./support/runCli.ts";

const dir = mkdtempSync(join(tmpdir(), "eg-serve-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("entitlement-gate serve --config", () => {
  it("uses the file where neither a flag nor a variable is given, the variable over the file, the flag over both", async () => {
    const file = join(dir, "settings.yaml");
    writeFileSync(
      file,
      ["HEALTH_ENDPOINT_URL: /live-from-file", "ready-endpoint-url: /ready-from-file", "serve:", "  bindAddress: 127.0.0.1", "  LOG_LEVEL: error", ""].join("\n"),
    );
    const child = startCli(
      ["serve", "--config", file, "--log-level", "info", "--sync-port", "0", "--grpc-port", "0", "--http-port", "0"],
      cleanEnv({ READY_ENDPOINT_URL: "/ready-from-env" }),
    );
    const logs = new LogLines(child);
    try {
      const ready = await logs.waitFor("the ready line", (l) => typeof l.msg === "string" && l.msg.includes("control plane ready"));
      assert.equal(ready.bindAddress, "127.0.0.1", "serve: section of the file");
      const base = `http://127.0.0.1:${ready.httpPort as number}`;
      assert.equal((await fetch(`${base}/live-from-file`)).status, 200, "file over default");
      assert.equal((await fetch(`${base}/ready-from-env`)).status, 200, "environment over file");
      assert.equal((await fetch(`${base}/ready-from-file`)).status, 404);
      assert.equal(ready.level, 30, "--log-level info (flag) over LOG_LEVEL: error (file): the info ready line is written");
      child.kill("SIGTERM");
      assert.equal((await exited(child)).code, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("refuses a file with a key no command knows, naming it", async () => {
    const file = join(dir, "typo.yaml");
    writeFileSync(file, "SYNC_PROT: 9000\ncheck:\n  custmer: acme\n");
    const r = await runCli(["serve", "--config", file], cleanEnv());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /typo\.yaml: SYNC_PROT: not a setting/);
    assert.match(r.stderr, /typo\.yaml: check\.custmer: not a setting/);
  });

  it("names the setting and exits 2 when the file holds a bad value", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "SYNC_PORT: lots\n");
    const r = await runCli(["serve", "--config", file], cleanEnv());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /SYNC_PORT: "lots" is not a port number/);
  });
});
