// The command line as an operator meets it: help, version, unknown input, and envoy-config with the
// documented precedence flag > environment > --config file > default.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { DEFAULT_SHUTDOWN_GRACE_MS } from "../../control/controlPlane.ts";
import { envoyConfigProblems } from "../../control/cli/envoySchema.ts";
import { cleanEnv, ROOT, runCli } from "./support/runCli.ts";

const dir = mkdtempSync(join(tmpdir(), "eg-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function listenerPort(yamlText: string): number {
  const doc = parse(yamlText) as { static_resources: { listeners: Array<{ address: { socket_address: { port_value: number } } }> } };
  return doc.static_resources.listeners[0]!.address.socket_address.port_value;
}

describe("entitlement-gate (top level)", () => {
  it("prints the package version with --version", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = await runCli(["--version"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), version);
  });

  it("lists every command with --help", async () => {
    const r = await runCli(["--help"]);
    assert.equal(r.code, 0);
    for (const command of ["serve", "check", "validate", "envoy-config", "--config", "Precedence: flag > environment variable > --config file > default"]) {
      assert.ok(r.stdout.includes(command), `help mentions ${command}`);
    }
  });

  for (const [command, mentions] of [
    ["serve", ["--sync-port", "SYNC_PORT", "--shutdown-grace-ms", "SHUTDOWN_GRACE_MS", `default: ${DEFAULT_SHUTDOWN_GRACE_MS}`]],
    ["check", ["--customer", "--feature", "--requested-usage", "--resource", "--address", "--json", "3 denied"]],
    ["validate", ["--filter-config", "--envoy-config", "--entitlements", "--json"]],
    ["envoy-config", ["--variant", "--listener-port", "--rule", "--gate-config", "--output"]],
  ] as const) {
    it(`explains ${command} and its options with ${command} --help`, async () => {
      const r = await runCli([command, "--help"]);
      assert.equal(r.code, 0, r.stderr);
      for (const m of mentions) assert.ok(r.stdout.includes(m), `${command} --help mentions ${m}`);
    });
  }

  it("refuses an unknown command with exit code 2", async () => {
    const r = await runCli(["frobnicate"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });

  it("refuses an unreadable --config file with exit code 2, naming it", async () => {
    const r = await runCli(["envoy-config", "--config", join(dir, "missing.yaml")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--config .*missing\.yaml/);
  });
});

describe("entitlement-gate envoy-config", () => {
  it("renders envoy/standalone/envoy.yaml byte for byte with no options", async () => {
    const r = await runCli(["envoy-config"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, readFileSync(join(ROOT, "envoy/standalone/envoy.yaml"), "utf8"));
  });

  it("renders envoy/ext-authz/envoy.yaml with --variant ext-authz", async () => {
    const r = await runCli(["envoy-config", "--variant", "ext-authz"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, readFileSync(join(ROOT, "envoy/ext-authz/envoy.yaml"), "utf8"));
  });

  it("puts the given rules, ports and names into the filter configuration", async () => {
    const r = await runCli(["envoy-config", "--rule", "/v1/export=exports", "--rule", "/v1/ai=ai-tokens:10", "--sync-port", "9100", "--vm-id", "gate", "--control-plane-host", "10.0.0.7"]);
    assert.equal(r.code, 0, r.stderr);
    const doc = parse(r.stdout) as Record<string, unknown>;
    const json = JSON.stringify(doc);
    assert.match(json, /\\"pathPrefix\\": \\"\/v1\/ai\\",\\n {6}\\"feature\\": \\"ai-tokens\\",\\n {6}\\"requestedUsage\\": 10/);
    assert.equal((json.match(/"vm_id":"gate"/g) ?? []).length, 2, "both plugins get the vm_id");
    assert.match(json, /"address":"10\.0\.0\.7","port_value":9100/);
  });

  it("adds mutual TLS to the control plane's cluster, valid for Envoy's API, with the --tls-* options", async () => {
    const r = await runCli(["envoy-config", "--tls-ca-file", "/etc/eg/ca.pem", "--tls-cert-file", "/etc/eg/envoy.pem", "--tls-key-file", "/etc/eg/envoy-key.pem", "--tls-server-name", "eg.internal"]);
    assert.equal(r.code, 0, r.stderr);
    const doc = parse(r.stdout) as { static_resources: { clusters: Array<{ name: string; transport_socket?: { typed_config: Record<string, any> } }> } };
    assert.deepEqual(envoyConfigProblems("envoy.config.bootstrap.v3.Bootstrap", doc), []);
    const tls = doc.static_resources.clusters.find((c) => c.name === "control_plane")!.transport_socket!.typed_config;
    assert.equal(tls.sni, "eg.internal");
    assert.equal(tls.common_tls_context.validation_context.trusted_ca.filename, "/etc/eg/ca.pem");
    assert.equal(tls.common_tls_context.tls_certificates[0].private_key.filename, "/etc/eg/envoy-key.pem");
    assert.equal(doc.static_resources.clusters.find((c) => c.name === "app")!.transport_socket, undefined, "the app cluster stays as it was");
  });

  it("refuses a client certificate without its key", async () => {
    const r = await runCli(["envoy-config", "--tls-ca-file", "/etc/eg/ca.pem", "--tls-cert-file", "/etc/eg/envoy.pem"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give both or neither/);
  });

  it("writes --output to a file", async () => {
    const out = join(dir, "envoy.yaml");
    const r = await runCli(["envoy-config", "--output", out, "--listener-port", "8000"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(listenerPort(readFileSync(out, "utf8")), 8000);
  });

  it("takes a value from the flag over the environment over the --config file over the default", async () => {
    const file = join(dir, "precedence.yaml");
    writeFileSync(file, "envoy-config:\n  listener-port: 1111\n");
    assert.equal(listenerPort((await runCli(["envoy-config"])).stdout), 10000, "default");
    assert.equal(listenerPort((await runCli(["envoy-config", "--config", file])).stdout), 1111, "file over default");
    const env = cleanEnv({ EG_LISTENER_PORT: "2222" });
    assert.equal(listenerPort((await runCli(["envoy-config", "--config", file], env)).stdout), 2222, "environment over file");
    assert.equal(listenerPort((await runCli(["envoy-config", "--config", file, "--listener-port", "3333"], env)).stdout), 3333, "flag over environment");
  });

  it("reads top-level settings by variable name from the --config file (SYNC_PORT)", async () => {
    const file = join(dir, "global.yaml");
    writeFileSync(file, "SYNC_PORT: 9555\n");
    const r = await runCli(["envoy-config", "--config", file]);
    assert.match(JSON.stringify(parse(r.stdout)), /"address":"control-plane","port_value":9555/);
  });

  it("names the source of every bad value and exits 2", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "envoy-config:\n  admin-port: lots\n");
    const r = await runCli(["envoy-config", "--config", file, "--rule", "reports", "--failure-policy", "MAYBE"], cleanEnv({ EG_LISTENER_PORT: "70000" }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /EG_LISTENER_PORT: "70000" is not a whole number from 1 to 65535/);
    assert.match(r.stderr, /bad\.yaml: envoy-config\.admin-port: "lots"/);
    assert.match(r.stderr, /--rule: "reports" is not PATH_PREFIX=FEATURE/);
    assert.match(r.stderr, /--failure-policy: "MAYBE"/);
    assert.equal(r.stdout, "");
  });
});
