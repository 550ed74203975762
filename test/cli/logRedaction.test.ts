// Secrets never reach the logs: SERVER_API_KEY, REDIS_PASSWORD and authorization headers are redacted
// wherever they appear in a log object, and their values are scrubbed from messages and errors.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLogger, REDACTED } from "../../control/log.ts";
import { cleanEnv, exited, LogLines, startCli } from "./support/runCli.ts";

const API_KEY = "sk-live-0123456789abcdef";
const REDIS_PASSWORD = "redis-pa55word-xyz";

function captured(): { lines: string[]; destination: { write(s: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (s: string) => void lines.push(s) } };
}

describe("log redaction", () => {
  it("redacts secret settings and headers at any usual depth", () => {
    const { lines, destination } = captured();
    const logger = createLogger("debug", { destination, env: {} });
    logger.info({ serverApiKey: API_KEY, settings: { serverApiKey: API_KEY, redisPassword: REDIS_PASSWORD, syncPort: 9000 } }, "settings");
    logger.info({ env: { SERVER_API_KEY: API_KEY, REDIS_PASSWORD } }, "environment");
    logger.info({ req: { headers: { authorization: "Bearer abc.def", "x-api-key": API_KEY, "x-customer-id": "acme" } } }, "request");
    logger.child({ component: "edge" }).warn({ headers: { Authorization: "Basic Zm9v" } }, "upstream call");
    const text = lines.join("");
    for (const secret of [API_KEY, REDIS_PASSWORD, "Bearer abc.def", "Basic Zm9v"]) assert.ok(!text.includes(secret), `${secret} is not logged`);
    const first = JSON.parse(lines[0]!) as { settings: { syncPort: number; serverApiKey: string } };
    assert.equal(first.settings.serverApiKey, REDACTED);
    assert.equal(first.settings.syncPort, 9000, "other fields are kept");
    assert.match(lines[2]!, /"x-customer-id":"acme"/);
  });

  it("scrubs the secret values from messages and errors", () => {
    const { lines, destination } = captured();
    const logger = createLogger("info", { destination, env: { SERVER_API_KEY: API_KEY, REDIS_PASSWORD } });
    logger.error({ err: new Error(`401 for key ${API_KEY}`) }, `edge call with ${API_KEY} failed`);
    logger.warn(new Error(`AUTH ${REDIS_PASSWORD} rejected`));
    const text = lines.join("");
    assert.ok(!text.includes(API_KEY) && !text.includes(REDIS_PASSWORD), text);
    assert.match(text, /edge call with \[redacted\] failed/);
    assert.match(text, /401 for key \[redacted\]/);
  });

  it("keeps SERVER_API_KEY out of a running control plane's output", async () => {
    const child = startCli(["serve", "--log-level", "debug"], cleanEnv({ SERVER_API_KEY: API_KEY, OFFLINE: "1", SYNC_PORT: "0", GRPC_PORT: "0", HTTP_PORT: "0", BIND_ADDRESS: "127.0.0.1" }));
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const logs = new LogLines(child);
    try {
      await logs.waitFor("the ready line", (l) => typeof l.msg === "string" && l.msg.includes("control plane ready"));
      child.kill("SIGTERM");
      assert.equal((await exited(child)).code, 0);
      assert.ok(logs.lines.length >= 2, "it logged");
      assert.ok(!logs.raw.includes(API_KEY) && !stderr.includes(API_KEY), "the key appears nowhere in stdout or stderr");
    } finally {
      child.kill("SIGKILL");
    }
  });
});
