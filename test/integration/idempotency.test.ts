/**
 * Idempotency-Key against real Postgres and Redis: the first answer again for the same key and
 * request, from another api process too; 409 for another request or one still in flight.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { OpenAIStub } from "../helpers/openai-stub.ts";
import { spawnQuarry, type QuarryProcess } from "../helpers/processes.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ADMIN = "idempotency-admin-token";
const stub = new OpenAIStub();
let stack: TestStack;
let offline: TestStack;
let acme: ApiClient;
let collectionId = "";

beforeAll(async () => {
  await stub.start();
  stack = await startTestStack({ workers: true, env: { OPENAI_API_KEY: "sk-stub", OPENAI_BASE_URL: stub.url, OPENAI_MAX_RETRIES: "0", ADMIN_TOKEN: ADMIN, LOG_LEVEL: "silent" } });
  offline = await startTestStack({ env: { REDIS_URL: "redis://127.0.0.1:1" } });
  acme = apiClient(stack.url, TEST_KEYS.acme);
  collectionId = (await acme.post("/v1/collections", { name: "idempotent", embedding: { provider: "local" } })).body.id;
}, 60_000);
afterAll(async () => {
  await Promise.all([stack?.stop(), offline?.stop()]);
  await stub.stop();
});

const withKey = (key: string) => ({ "idempotency-key": key });

describe("Idempotency-Key", () => {
  it("answers the same key and body with the first answer, and does the work once", async () => {
    const key = randomUUID();
    const first = await acme.post(`/v1/collections/${collectionId}/documents`, { text: "Owls hunt at night.", title: "owls" }, withKey(key));
    expect(first.status).toBe(202);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    // The same body with its keys in another order is the same request.
    const again = await acme.post(`/v1/collections/${collectionId}/documents`, { title: "owls", text: "Owls hunt at night." }, withKey(key));
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(again.body).toEqual(first.body);
    const jobs = (await acme.get("/v1/jobs?type=ingest_document&limit=100")).body.data;
    expect(jobs.filter((j: Json) => j.id === first.body.job.id)).toHaveLength(1);
    expect(jobs).toHaveLength(1);
  });

  it("refuses the key for another body, another route, or another method's path", async () => {
    const key = randomUUID();
    expect((await acme.post("/v1/collections", { name: "first" }, withKey(key))).status).toBe(201);
    const other = await acme.post("/v1/collections", { name: "second" }, withKey(key));
    expect([other.status, other.body.error.code]).toEqual([409, "IDEMPOTENCY_KEY_REUSED"]);
    const elsewhere = await acme.post(`/v1/collections/${collectionId}/documents`, { text: "x" }, withKey(key));
    expect(elsewhere.body.error.code).toBe("IDEMPOTENCY_KEY_REUSED");
    // Keys belong to a tenant: another tenant's identical key is its own.
    expect((await apiClient(stack.url, TEST_KEYS.globex).post("/v1/collections", { name: "second" }, withKey(key))).status).toBe(201);
  });

  it("keeps an error answer too, and refuses a malformed key", async () => {
    const key = randomUUID();
    const bad = await acme.post("/v1/collections", { name: "" }, withKey(key));
    expect(bad.status).toBe(400);
    const again = await acme.post("/v1/collections", { name: "" }, withKey(key));
    expect([again.status, again.headers.get("idempotent-replayed")]).toEqual([400, "true"]);
    for (const malformed of ["", "x".repeat(256), "with space"]) {
      const res = await acme.post("/v1/collections", { name: "m" }, withKey(malformed));
      expect([res.status, res.body.error.code], JSON.stringify(malformed)).toEqual([400, "INVALID_IDEMPOTENCY_KEY"]);
    }
    expect((await acme.get("/v1/collections?limit=100")).body.data.some((c: Json) => c.name === "m")).toBe(false);
  });

  it("answers 409 IDEMPOTENCY_KEY_IN_FLIGHT while the first request is still being answered", async () => {
    const lark = await acme.post(`/v1/collections/${collectionId}/documents`, { text: "Larks sing at dawn." });
    await waitFor(async () => (await acme.get(`/v1/jobs/${lark.body.job.id}`)).body.status === "succeeded", 20_000, "the lark document");
    const before = stub.count("/v1/chat/completions");
    stub.chatDelayMs = 1_500;
    try {
      const key = randomUUID();
      const body = { collection_ids: [collectionId], message: "When do larks sing?" };
      const slow = acme.post("/v1/chat", body, withKey(key));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const early = await acme.post("/v1/chat", body, withKey(key));
      expect([early.status, early.body.error.code, early.headers.get("retry-after")]).toEqual([409, "IDEMPOTENCY_KEY_IN_FLIGHT", "1"]);
      const first = await slow;
      expect(first.status).toBe(200);
      const late = await acme.post("/v1/chat", body, withKey(key));
      expect(late.body.session_id).toBe(first.body.session_id);
      expect(stub.count("/v1/chat/completions") - before).toBe(1);
      // The session holds one exchange, not two.
      expect((await acme.get(`/v1/chat/sessions/${first.body.session_id}`)).body.messages).toHaveLength(2);
    } finally {
      stub.chatDelayMs = 0;
    }
  });

  it("covers multipart uploads: the same file and fields again is the same upload", async () => {
    const key = randomUUID();
    const send = (content: string) => {
      const form = new FormData();
      form.append("title", "bats");
      form.append("file", new Blob([content], { type: "text/plain" }), "bats.txt");
      return fetch(`${stack.url}/v1/collections/${collectionId}/documents`, { method: "POST", headers: { authorization: `Bearer ${TEST_KEYS.acme}`, ...withKey(key) }, body: form });
    };
    const first = await send("Bats navigate by echolocation.");
    const firstBody = await first.json();
    expect(first.status).toBe(202);
    const again = await send("Bats navigate by echolocation.");
    expect([again.status, again.headers.get("idempotent-replayed")]).toEqual([202, "true"]);
    expect(await again.json()).toEqual(firstBody);
    const other = await send("Another file under the same key.");
    expect(other.status).toBe(409);
  });

  it("lets the key go when the answer is worth retrying (503), so the retry runs again", async () => {
    const client = apiClient(offline.url, TEST_KEYS.acme);
    const collection = (await client.post("/v1/collections", { name: "offline" })).body.id;
    const key = randomUUID();
    const refused = await client.post(`/v1/collections/${collection}/documents`, { text: "cannot be queued" }, withKey(key));
    expect(refused.status).toBe(503);
    await expect(offline.deps.idempotency.find("acme", key)).resolves.toBeUndefined();
    const retried = await client.post(`/v1/collections/${collection}/documents`, { text: "cannot be queued" }, withKey(key));
    expect([retried.status, retried.headers.get("idempotent-replayed")]).toEqual([503, null]);
  });

  it("ignores the key on POSTs that only read", async () => {
    const key = randomUUID();
    for (let i = 0; i < 2; i++) {
      const res = await acme.post(`/v1/collections/${collectionId}/search`, { query: "owls" }, withKey(key));
      expect([res.status, res.headers.get("idempotent-replayed")]).toEqual([200, null]);
    }
  });

  it("covers the operator's backups", async () => {
    const admin = apiClient(stack.url, ADMIN);
    const key = randomUUID();
    const first = await admin.post("/v1/backups", { collection_ids: [collectionId] }, withKey(key));
    expect(first.status).toBe(202);
    const again = await admin.post("/v1/backups", { collection_ids: [collectionId] }, withKey(key));
    expect([again.status, again.body.backup.id]).toEqual([202, first.body.backup.id]);
  });
});

describe("Idempotency-Key across api processes", () => {
  let apis: QuarryProcess[] = [];
  afterAll(async () => {
    await Promise.all(apis.map((a) => a.stop("SIGTERM")));
  });

  it("answers a key first used on one api process from another", async () => {
    const env = { ...stack.env.env, LOG_LEVEL: "info" };
    apis = [spawnQuarry("api/main.ts", env), spawnQuarry("api/main.ts", env)];
    const [a, b] = await Promise.all(apis.map(async (p) => apiClient(String((await p.waitForLog((l) => l.msg === "api listening")).url), TEST_KEYS.acme)));
    const key = randomUUID();
    const first = await a!.post(`/v1/collections/${collectionId}/documents`, { text: "Herons wade in shallow water." }, withKey(key));
    expect(first.status).toBe(202);
    const again = await b!.post(`/v1/collections/${collectionId}/documents`, { text: "Herons wade in shallow water." }, withKey(key));
    expect([again.status, again.headers.get("idempotent-replayed"), again.body.job.id]).toEqual([202, "true", first.body.job.id]);
  }, 60_000);
});
