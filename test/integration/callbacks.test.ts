/**
 * Job callbacks end to end: an api and a worker process, a receiver on loopback (allowlisted) that
 * verifies every delivery with the official `openai` SDK and with the `standardwebhooks` package.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import OpenAI from "openai";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { startApiAndWorker } from "../helpers/processes.ts";
import { createTestEnv, TEST_KEYS, waitFor, type TestEnv } from "../helpers/test-env.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const ADMIN = "callbacks-admin-token-01";
const openai = new OpenAI({ apiKey: "unused", webhookSecret: SECRET });

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

let receiver: Server;
let base = "";
const deliveries: Delivery[] = [];
/** Statuses each path answers, in turn (then 200). */
const script: Record<string, number[]> = { "/flaky": [500, 500, 500], "/gone": [410, 410, 410] };

let env: TestEnv;
let stack: Awaited<ReturnType<typeof startApiAndWorker>>;
let acme: ApiClient;
let collectionId = "";

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const status = script[req.url ?? ""]?.shift() ?? 200;
      deliveries.push({ path: req.url ?? "", headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  env = createTestEnv({ WEBHOOK_SECRET: SECRET, OUTBOUND_ALLOWLIST: "127.0.0.1", LOG_LEVEL: "info", ADMIN_TOKEN: ADMIN, BACKUP_CRON: "off" });
  stack = await startApiAndWorker(env.env);
  acme = apiClient(stack.url, TEST_KEYS.acme);
  collectionId = (await acme.post("/v1/collections", { name: "callbacks" })).body.id;
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

const headersOf = (d: Delivery) => Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k, String(v)]));
const job = async (id: string) => (await acme.get(`/v1/jobs/${id}`)).body;

describe("a job's callback", () => {
  it("is retried through a receiver's errors and accepted once, signed so that both verifiers accept it", async () => {
    const res = await acme.post(`/v1/collections/${collectionId}/documents`, { text: "Owls hunt at night.", callback_url: `${base}/flaky` });
    expect(res.status).toBe(202);
    const jobId = res.body.job.id;
    const accepted = await waitFor(async () => deliveries.find((d) => d.path === "/flaky" && d.status === 200), 30_000, "an accepted delivery");
    const tries = deliveries.filter((d) => d.path === "/flaky");
    expect(tries.map((d) => d.status)).toEqual([500, 500, 500, 200]);
    // One message: every try carries the same webhook-id, so a receiver can drop duplicates.
    expect(new Set(tries.map((d) => d.headers["webhook-id"])).size).toBe(1);
    const body = JSON.parse(accepted.body);
    expect(body).toMatchObject({ id: jobId, type: "ingest_document", status: "succeeded" });

    await expect(openai.webhooks.verifySignature(accepted.body, headersOf(accepted), SECRET)).resolves.toBeUndefined();
    expect(new Webhook(SECRET).verify(accepted.body, headersOf(accepted))).toMatchObject({ id: jobId });

    const seen = await waitFor(async () => {
      const j = await job(jobId);
      return j.callback?.attempts.length === 4 ? j : undefined;
    }, 10_000, "the attempts on the job");
    expect(seen.callback.url).toBe(`${base}/flaky`);
    expect(seen.callback.attempts.map((a: Json) => [a.status_code, a.outcome])).toEqual([
      [500, "retrying"],
      [500, "retrying"],
      [500, "retrying"],
      [200, "delivered"],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(deliveries.filter((d) => d.path === "/flaky")).toHaveLength(4);
  }, 60_000);

  it("that was tampered with or replayed later is rejected by both verifiers", async () => {
    const accepted = deliveries.find((d) => d.path === "/flaky" && d.status === 200)!;
    const tampered = accepted.body.replace('"succeeded"', '"failed"');
    await expect(openai.webhooks.verifySignature(tampered, headersOf(accepted), SECRET)).rejects.toThrow();
    expect(() => new Webhook(SECRET).verify(tampered, headersOf(accepted))).toThrow();
    const wrongSecret = `whsec_${randomBytes(32).toString("base64")}`;
    expect(() => new Webhook(wrongSecret).verify(accepted.body, headersOf(accepted))).toThrow();
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 10 * 60_000);
      await expect(openai.webhooks.verifySignature(accepted.body, headersOf(accepted), SECRET)).rejects.toThrow();
      expect(() => new Webhook(SECRET).verify(accepted.body, headersOf(accepted))).toThrow();
    } finally {
      vi.useRealTimers();
    }
  });

  it("stops at the receiver's 410", async () => {
    const res = await acme.post(`/v1/collections/${collectionId}/documents`, { text: "Larks sing at dawn.", callback_url: `${base}/gone` });
    const jobId = res.body.job.id;
    await waitFor(async () => deliveries.some((d) => d.path === "/gone"), 30_000, "the first delivery");
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(deliveries.filter((d) => d.path === "/gone")).toHaveLength(1);
    expect((await job(jobId)).callback.attempts.map((a: Json) => [a.status_code, a.outcome])).toEqual([[410, "stopped"]]);
  }, 60_000);

  it("URL is refused at request time when the outbound guard would refuse it, and nothing is stored", async () => {
    for (const url of ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data", "http://127.0.0.2:9/hook", "http://[::1]/hook", "ftp://example.com/x"]) {
      const res = await acme.post(`/v1/collections/${collectionId}/documents`, { text: `refused ${url}`, callback_url: url });
      expect(res.status, url).toBe(400);
      expect(res.body.error.code, url).toMatch(/^(CALLBACK_URL_REFUSED|VALIDATION_ERROR)$/);
    }
    const docs = (await acme.get(`/v1/collections/${collectionId}/documents?limit=100`)).body.data;
    expect(docs.some((d: Json) => String(d.title ?? "").startsWith("refused") || false)).toBe(false);
    expect(docs).toHaveLength(2);
  });
});

describe("callbacks of other job types", () => {
  it("come for a re-embed and for a backup, verified the same way", async () => {
    const reembed = await acme.post(`/v1/collections/${collectionId}/reembed`, { embedding: { provider: "local", dimensions: 128 }, callback_url: `${base}/reembed` });
    expect(reembed.status).toBe(202);
    const backup = await apiClient(stack.url, ADMIN).post("/v1/backups", { callback_url: `${base}/backup` });
    expect(backup.status).toBe(202);
    for (const [path, type, id] of [["/reembed", "reembed_collection", reembed.body.job.id], ["/backup", "create_backup", backup.body.job.id]] as const) {
      const d = await waitFor(async () => deliveries.find((x) => x.path === path), 30_000, `the ${type} callback`);
      expect(JSON.parse(d.body)).toMatchObject({ id, type, status: "succeeded" });
      await expect(openai.webhooks.verifySignature(d.body, headersOf(d), SECRET)).resolves.toBeUndefined();
    }
    const refused = await acme.post(`/v1/collections/${collectionId}/reembed`, { embedding: { provider: "local" }, callback_url: "http://192.168.1.10/hook" });
    expect([refused.status, refused.body.error.code]).toEqual([400, "CALLBACK_URL_REFUSED"]);
  }, 60_000);
});

describe("callbacks of deletions (callback_url in the query)", () => {
  /** A collection of its own with one ingested document (the collection above counts its documents). */
  async function collectionWithDocument(name: string) {
    const c = (await acme.post("/v1/collections", { name })).body.id as string;
    const up = await acme.post(`/v1/collections/${c}/documents`, { text: `Herons wait in ${name}.` });
    expect(up.status).toBe(202);
    await waitFor(async () => (await job(up.body.job.id)).status === "succeeded", 30_000, "the ingest");
    return { collection: c, document: up.body.document.id as string };
  }
  const hook = (path: string) => encodeURIComponent(`${base}${path}`);

  it("come once, signed, with the ended delete job, for a document and for a collection", async () => {
    const { collection, document } = await collectionWithDocument("deletion callbacks");
    // An unknown query parameter is ignored, as on the list routes.
    const delDoc = await acme.delete(`/v1/documents/${document}?callback_url=${hook("/delete-document")}&unknown=1`);
    expect(delDoc.status).toBe(202);
    expect((await job(delDoc.body.job.id)).callback.url).toBe(`${base}/delete-document`);
    const delCollection = await acme.delete(`/v1/collections/${collection}?callback_url=${hook("/delete-collection")}`);
    expect(delCollection.status).toBe(202);
    for (const [path, type, id] of [
      ["/delete-document", "delete_document", delDoc.body.job.id],
      ["/delete-collection", "delete_collection", delCollection.body.job.id],
    ] as const) {
      const d = await waitFor(async () => deliveries.find((x) => x.path === path), 30_000, `the ${type} callback`);
      expect(JSON.parse(d.body)).toMatchObject({ id, type, status: "succeeded" });
      await expect(openai.webhooks.verifySignature(d.body, headersOf(d), SECRET)).resolves.toBeUndefined();
      expect(new Webhook(SECRET).verify(d.body, headersOf(d))).toMatchObject({ id, type });
    }
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    for (const [path, id] of [["/delete-document", delDoc.body.job.id], ["/delete-collection", delCollection.body.job.id]] as const) {
      expect(deliveries.filter((d) => d.path === path), path).toHaveLength(1);
      expect((await job(id)).callback.attempts.map((a: Json) => [a.status_code, a.outcome]), path).toEqual([[200, "delivered"]]);
    }
  }, 60_000);

  it("URL is refused at request time, and nothing is deleted", async () => {
    const { collection, document } = await collectionWithDocument("refused deletion callbacks");
    const deleteJobs = async () =>
      ((await acme.get("/v1/jobs?type=delete_document&limit=100")).body.data.length as number) +
      ((await acme.get("/v1/jobs?type=delete_collection&limit=100")).body.data.length as number);
    const before = await deleteJobs();
    const refused = encodeURIComponent("http://192.168.1.10/hook");
    const delDoc = await acme.delete(`/v1/documents/${document}?callback_url=${refused}`);
    expect([delDoc.status, delDoc.body.error.code]).toEqual([400, "CALLBACK_URL_REFUSED"]);
    const delCollection = await acme.delete(`/v1/collections/${collection}?callback_url=${refused}`);
    expect([delCollection.status, delCollection.body.error.code]).toEqual([400, "CALLBACK_URL_REFUSED"]);
    const notUrl = await acme.delete(`/v1/documents/${document}?callback_url=not-a-url`);
    expect([notUrl.status, notUrl.body.error.code]).toEqual([400, "VALIDATION_ERROR"]);
    expect((await acme.get(`/v1/documents/${document}`)).body).toMatchObject({ id: document, status: "ready" });
    expect((await acme.get(`/v1/collections/${collection}`)).status).toBe(200);
    expect(await deleteJobs()).toBe(before);
  });
});

describe("callbacks without WEBHOOK_SECRET", () => {
  it("are refused with 400 CALLBACKS_DISABLED", async () => {
    const plain = await startTestStack({ env: { OUTBOUND_ALLOWLIST: "127.0.0.1" } });
    try {
      const client = apiClient(plain.url, TEST_KEYS.acme);
      const c = await client.post("/v1/collections", { name: "unsigned" });
      const res = await client.post(`/v1/collections/${c.body.id}/documents`, { text: "t", callback_url: `${base}/hook` });
      expect([res.status, res.body.error.code]).toEqual([400, "CALLBACKS_DISABLED"]);
      const del = await client.delete(`/v1/collections/${c.body.id}?callback_url=${encodeURIComponent(`${base}/hook`)}`);
      expect([del.status, del.body.error.code]).toEqual([400, "CALLBACKS_DISABLED"]);
      expect((await client.get(`/v1/collections/${c.body.id}`)).status).toBe(200);
    } finally {
      await plain.stop();
    }
  });
});
