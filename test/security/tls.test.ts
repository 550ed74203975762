// TLS and mutual TLS on the sync port, GRPC_PORT and HTTP_PORT, with certificates re-read from disk.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import * as grpc from "@grpc/grpc-js";
import { parseSettings } from "../../control/config/settings.ts";
import { CertificateFileError } from "../../control/security/certificateFiles.ts";
import { makePki, opensslMissing, type Pki } from "./support/certificates.ts";
import { failure, firstStreamMessage, unaryCall } from "./support/grpcCalls.ts";
import { apiDefinitions, client, plane, SYNC } from "./support/plane.ts";
import { eventually, servedCertificate } from "./support/tlsProbe.ts";

// Name the server by its DNS SAN: an IP address as the TLS server name is deprecated (RFC 6066).
const SNI = { "grpc.ssl_target_name_override": "localhost" };

const skip = opensslMissing();
if (skip) console.log(`# skipping TLS tests: ${skip}`);

let pki: Pki | undefined;
function certs(): Pki {
  if (!pki) {
    pki = makePki();
    process.once("exit", () => pki?.remove());
  }
  return pki;
}

function httpsGet(port: number, path: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", servername: "localhost", port, path, ca, timeout: 3000 }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("serves FilterSync over TLS to a client that trusts the CA, and not to a plaintext client", { skip }, async (t) => {
  const p = certs();
  const server = p.server("sync-tls");
  const cp = await plane(t, { syncTlsCertFile: server.certFile, syncTlsKeyFile: server.keyFile });
  const first = await firstStreamMessage<{ kind: string }>(client(t, cp.syncPort, grpc.credentials.createSsl(p.ca), SNI), SYNC, "Subscribe", { nodeId: "envoy-tls" });
  assert.equal(first.kind, "MESSAGE_KIND_SNAPSHOT");
  const plain = await failure(firstStreamMessage(client(t, cp.syncPort), SYNC, "Subscribe", { nodeId: "plain" }, { deadlineMs: 1500 }));
  assert.ok([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(plain.code), `plaintext got ${plain.code}`);
});

test("mutual TLS refuses a client without a certificate or with one from another CA, and serves one signed by the client CA", { skip }, async (t) => {
  const p = certs();
  const server = p.server("sync-mtls");
  const cp = await plane(t, { syncTlsCertFile: server.certFile, syncTlsKeyFile: server.keyFile, syncTlsClientCaFile: p.caFile });
  const noCert = await failure(firstStreamMessage(client(t, cp.syncPort, grpc.credentials.createSsl(p.ca), SNI), SYNC, "Subscribe", { nodeId: "anon" }, { deadlineMs: 1500 }));
  assert.ok([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(noCert.code), `no client certificate got ${noCert.code}`);
  const stranger = p.client("stranger", true);
  const foreign = await failure(
    firstStreamMessage(client(t, cp.syncPort, grpc.credentials.createSsl(p.ca, stranger.key, stranger.cert), SNI), SYNC, "Subscribe", { nodeId: "stranger" }, { deadlineMs: 1500 }),
  );
  assert.ok([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(foreign.code), `foreign client certificate got ${foreign.code}`);
  const envoy = p.client("envoy");
  const first = await firstStreamMessage<{ kind: string }>(client(t, cp.syncPort, grpc.credentials.createSsl(p.ca, envoy.key, envoy.cert), SNI), SYNC, "Subscribe", { nodeId: "envoy" });
  assert.equal(first.kind, "MESSAGE_KIND_SNAPSHOT");
});

test("serves a certificate replaced on disk to new connections without a restart", { skip }, async (t) => {
  const p = certs();
  const before = p.server("sync-before");
  const after = p.server("sync-after");
  // The server reads its own copy, which the test then overwrites as a rotation tool would.
  const live = p.server("sync-live");
  copyFileSync(before.certFile, live.certFile);
  copyFileSync(before.keyFile, live.keyFile);
  const cp = await plane(t, { syncTlsCertFile: live.certFile, syncTlsKeyFile: live.keyFile, tlsReloadIntervalMs: 100 });
  const c = client(t, cp.syncPort, grpc.credentials.createSsl(p.ca), SNI);
  await firstStreamMessage(c, SYNC, "Subscribe", { nodeId: "before" });
  assert.equal(await servedCertificate(cp.syncPort, { ca: p.ca }), before.fingerprint);

  copyFileSync(after.keyFile, live.keyFile);
  copyFileSync(after.certFile, live.certFile);
  await eventually(async () => (await servedCertificate(cp.syncPort, { ca: p.ca })) === after.fingerprint);
  const fresh = client(t, cp.syncPort, grpc.credentials.createSsl(p.ca), SNI);
  const first = await firstStreamMessage<{ kind: string }>(fresh, SYNC, "Subscribe", { nodeId: "after" });
  assert.equal(first.kind, "MESSAGE_KIND_SNAPSHOT");
});

test("keeps serving the previous certificate while the files on disk do not fit together", { skip }, async (t) => {
  const p = certs();
  const good = p.server("keep-good");
  const other = p.server("keep-other");
  const live = p.server("keep-live");
  copyFileSync(good.certFile, live.certFile);
  copyFileSync(good.keyFile, live.keyFile);
  const cp = await plane(t, { grpcTlsCertFile: live.certFile, grpcTlsKeyFile: live.keyFile, tlsReloadIntervalMs: 100 });
  // A rotation caught halfway: the new certificate is written, its key not yet.
  copyFileSync(other.certFile, live.certFile);
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(await servedCertificate(cp.grpcPort, { ca: p.ca }), good.fingerprint);
  const answer = await unaryCall<{ has_access: boolean }>(
    client(t, cp.grpcPort, grpc.credentials.createSsl(p.ca), SNI),
    apiDefinitions().sidecar,
    "GetBooleanEntitlement",
    { customer_id: "customer-free", feature_id: "feature-reports" },
  );
  assert.equal(typeof answer.has_access, "boolean");
  copyFileSync(other.keyFile, live.keyFile);
  await eventually(async () => (await servedCertificate(cp.grpcPort, { ca: p.ca })) === other.fingerprint);
});

test("serves HTTPS on HTTP_PORT and reloads its certificate too", { skip }, async (t) => {
  const p = certs();
  const before = p.server("http-before");
  const after = p.server("http-after");
  const live = p.server("http-live");
  copyFileSync(before.certFile, live.certFile);
  copyFileSync(before.keyFile, live.keyFile);
  const cp = await plane(t, { httpTlsCertFile: live.certFile, httpTlsKeyFile: live.keyFile, tlsReloadIntervalMs: 100 });
  const live1 = await httpsGet(cp.httpPort, "/livez", p.ca);
  assert.deepEqual(live1, { status: 200, body: '{"status":"UP"}' });
  assert.equal(await servedCertificate(cp.httpPort, { ca: p.ca }, "http/1.1"), before.fingerprint);
  copyFileSync(after.keyFile, live.keyFile);
  copyFileSync(after.certFile, live.certFile);
  await eventually(async () => (await servedCertificate(cp.httpPort, { ca: p.ca }, "http/1.1")) === after.fingerprint);
  assert.equal((await httpsGet(cp.httpPort, "/readyz", p.ca)).status, 200);
});

test("HTTPS with a client CA refuses a client without a certificate and serves one signed by the CA", { skip }, async (t) => {
  const p = certs();
  const server = p.server("http-mtls");
  const cp = await plane(t, { httpTlsCertFile: server.certFile, httpTlsKeyFile: server.keyFile, httpTlsClientCaFile: p.caFile });
  await assert.rejects(httpsGet(cp.httpPort, "/livez", p.ca));
  const operator = p.client("operator");
  const answer = await new Promise<number>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", servername: "localhost", port: cp.httpPort, path: "/livez", ca: p.ca, cert: operator.cert, key: operator.key, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
  assert.equal(answer, 200);
});

test("refuses to start with a certificate file that is not PEM, naming the variable", { skip }, async (t) => {
  const p = certs();
  const server = p.server("broken");
  writeFileSync(server.certFile, "not a certificate\n");
  await assert.rejects(plane(t, { grpcTlsCertFile: server.certFile, grpcTlsKeyFile: server.keyFile }), (err: unknown) => {
    assert.ok(err instanceof CertificateFileError);
    assert.match(err.message, /GRPC_TLS_CERT_FILE/);
    return true;
  });
});

test("settings: a certificate without its key, a client CA without a certificate, and an unreadable file are errors naming the variables", () => {
  const cert = new URL(import.meta.url).pathname;
  const missingKey = parseSettings({ SYNC_TLS_CERT_FILE: cert }, []);
  assert.deepEqual(missingKey, { kind: "invalid", errors: ["SYNC_TLS_CERT_FILE: is set without SYNC_TLS_KEY_FILE; TLS needs both"] });
  const caOnly = parseSettings({ HTTP_TLS_CLIENT_CA_FILE: cert }, []);
  assert.deepEqual(caOnly, { kind: "invalid", errors: ["HTTP_TLS_CLIENT_CA_FILE: mutual TLS needs HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE too"] });
  const unreadable = parseSettings({}, ["--grpc-tls-key-file", "/nonexistent/key.pem"]);
  assert.equal(unreadable.kind, "invalid");
  assert.match(unreadable.kind === "invalid" ? unreadable.errors[0]! : "", /^--grpc-tls-key-file: "\/nonexistent\/key.pem" cannot be read \(ENOENT\)/);
  const token = parseSettings({ SYNC_AUTH_TOKEN: "short" }, []);
  assert.match(token.kind === "invalid" ? token.errors[0]! : "", /^SYNC_AUTH_TOKEN: is not a usable token/);
});
