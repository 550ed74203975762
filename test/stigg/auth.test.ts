import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startStiggEmulator, type StiggEmulator } from "./emulator.ts";
import { ACME, postGraphql } from "./fixtures.ts";
import { WsTestClient } from "./wsTestClient.ts";

describe("Stigg emulator authentication", () => {
  let emulator: StiggEmulator;
  before(async () => {
    emulator = await startStiggEmulator({ apiKeys: ["key-a", "key-b"], customers: { acme: ACME } });
  });
  after(() => emulator.close());

  test("Edge answers 401 without an API key and with an unknown one", async () => {
    const missing = await fetch(`${emulator.edgeUrl}/v1/c/acme/entitlements-state.json`);
    assert.equal(missing.status, 401);
    const wrong = await fetch(`${emulator.edgeUrl}/v1/c/acme/entitlements-state.json`, { headers: { "X-API-KEY": "nope" } });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: string }).error, "unauthorized");
  });

  test("Edge accepts every configured key", async () => {
    for (const key of ["key-a", "key-b"]) {
      const response = await fetch(`${emulator.edgeUrl}/v1/c/acme/entitlements-state.json`, { headers: { "X-API-KEY": key } });
      assert.equal(response.status, 200);
    }
  });

  test("/health needs no key", async () => {
    const response = await fetch(`${emulator.url}/health`);
    assert.equal(response.status, 200);
  });

  test("GraphQL answers 401 with an Unauthenticated error for a wrong key", async () => {
    const { status, body } = await postGraphql(emulator.graphqlUrl, "nope", "GetSdkConfiguration", "query GetSdkConfiguration { sdkConfiguration { sentryDsn } }");
    assert.equal(status, 401);
    assert.equal(body.errors?.[0]?.extensions?.code, "Unauthenticated");
  });

  test("a WebSocket connection_init with a wrong key is closed with 4500 Invalid API key", async () => {
    const client = await WsTestClient.open(emulator.wsEndpointUrl);
    client.send({ type: "connection_init", payload: { headers: { "X-API-KEY": "nope" } } });
    assert.equal(await client.closed(), 4500);
    assert.equal(client.closeReason, "Invalid API key");
    assert.equal(client.messages.length, 0);
  });

  test("the WebSocket auth failure close code is configurable (4403)", async () => {
    const strict = await startStiggEmulator({ wsAuthFailureCloseCode: 4403 });
    try {
      const client = await WsTestClient.open(strict.wsEndpointUrl);
      client.send({ type: "connection_init", payload: { headers: { "X-API-KEY": "nope" } } });
      assert.equal(await client.closed(), 4403);
    } finally {
      await strict.close();
    }
  });

  test("a subscribe before connection_ack is closed with 4401", async () => {
    const client = await WsTestClient.open(emulator.wsEndpointUrl);
    client.subscribe("1", "subscription { packagePublished { migrationType } }");
    assert.equal(await client.closed(), 4401);
  });

  test("a WebSocket without the graphql-transport-ws subprotocol is closed with 4406", async () => {
    const client = await WsTestClient.open(emulator.wsEndpointUrl, null);
    assert.equal(await client.closed(), 4406);
  });

  test("a socket that never sends connection_init is closed with 4408", async () => {
    const impatient = await startStiggEmulator({ wsConnectionInitTimeoutMs: 50 });
    try {
      const client = await WsTestClient.open(impatient.wsEndpointUrl);
      assert.equal(await client.closed(), 4408);
    } finally {
      await impatient.close();
    }
  });

  test("a second connection_init is closed with 4429", async () => {
    const client = await WsTestClient.connect(emulator.wsEndpointUrl, "key-a");
    client.send({ type: "connection_init", payload: { headers: { "X-API-KEY": "key-a" } } });
    assert.equal(await client.closed(), 4429);
  });
});
