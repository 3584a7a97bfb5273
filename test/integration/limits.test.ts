import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import type { Server } from "node:http";
import { pino } from "pino";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebServer, stopWebServer } from "../../api/server.ts";
import { loadConfig } from "../../shared/config/env.ts";
import { createDeps, type Deps } from "../../shared/deps.ts";
import { createLogger, type Logger } from "../../shared/logging/logger.ts";
import { acceptDocument } from "../../shared/use-cases/documents.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { createTestEnv, waitFor, type TestEnv } from "../helpers/test-env.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Another api process on an existing environment (same database, Redis and queue prefix), without housekeeping. */
async function startApi(env: Record<string, string>, logger?: Logger): Promise<{ deps: Deps; url: string; stop(): Promise<void> }> {
  const config = loadConfig(env);
  const deps = await createDeps(config, logger ?? createLogger(config, "test"));
  const { server, url }: { server: Server; url: string } = await startWebServer(deps, 0, "127.0.0.1", { housekeeping: false });
  return {
    deps,
    url,
    async stop() {
      await stopWebServer(server);
      await deps.close();
    },
  };
}

const KEYS = {
  acmeSetup: "acme-setup-key-0001",
  acme1: "acme-key-a1-000001",
  acme2: "acme-key-a2-000002",
  globexSetup: "globex-setup-key-01",
  globex: "globex-key-g1-00001",
  initechSetup: "initech-setup-key-1",
  initech: "initech-key-i1-0001",
};
const ADMIN = "admin-token-for-the-limits-test";
const ALLOWED_ORIGIN = "https://app.example.com";

describe("per-key rate limits", () => {
  let stack: TestStack;
  let second: Awaited<ReturnType<typeof startApi>>;
  const collections: Record<string, string> = {};
  const client = (key: string, url = stack.url) => apiClient(url, key);
  const search = (c: ApiClient, collection: string) => c.post(`/v1/collections/${collection}/search`, { query: "anything" });

  beforeAll(async () => {
    stack = await startTestStack({
      env: {
        API_KEYS: [
          `acme:${KEYS.acmeSetup}`,
          `acme:${KEYS.acme1}`,
          `acme:${KEYS.acme2}`,
          `globex:${KEYS.globexSetup}`,
          `globex:${KEYS.globex}`,
          `initech:${KEYS.initechSetup}`,
          `initech:${KEYS.initech}`,
        ].join(","),
        ADMIN_TOKEN: ADMIN,
        CORS_ORIGINS: ALLOWED_ORIGIN,
        RATE_LIMIT_QUERIES: "3",
        RATE_LIMIT_UPLOADS: "2",
        RATE_LIMIT_REQUESTS: "6",
      },
    });
    // A second api process on the same Redis, queue prefix and database.
    second = await startApi(stack.env.env);
    for (const [tenant, key] of [["acme", KEYS.acmeSetup], ["globex", KEYS.globexSetup], ["initech", KEYS.initechSetup]] as const) {
      const res = await client(key).post("/v1/collections", { name: `${tenant}-limits` });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      collections[tenant] = res.body.id;
    }
  });
  afterAll(async () => {
    await second?.stop();
    await stack?.stop();
  });

  it("answers 429 RATE_LIMITED with Retry-After and the RateLimit headers once a key's query budget is spent", async () => {
    const acme = client(KEYS.acme1);
    for (const remaining of [2, 1, 0]) {
      const res = await search(acme, collections.acme!);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.headers.get("ratelimit-policy")).toBe('"queries";q=3;w=60');
      expect(res.headers.get("ratelimit")).toMatch(new RegExp(`^"queries";r=${remaining};t=([1-9]|[1-5][0-9]|60)$`));
    }
    const refused = await search(acme, collections.acme!);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: "RATE_LIMITED", details: { budget: "queries", limit: 3, window_s: 60 } });
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body.error.retry_after).toBe(retryAfter);
    expect(refused.headers.get("ratelimit")).toBe(`"queries";r=0;t=${retryAfter}`);
    // Search, chat and embeddings share the one query budget.
    const chat = await acme.post("/v1/chat", { collection_ids: [collections.acme], message: "anything?" });
    expect(chat.status).toBe(429);
    expect(chat.body.error.code).toBe("RATE_LIMITED");
    expect((await acme.post("/v1/embeddings", { input: "anything" })).status).toBe(429);
  });

  it("keeps separate budgets for uploads, queries and the rest", async () => {
    const acme = client(KEYS.acme1); // its query budget is spent (above)
    const list = await acme.get("/v1/collections");
    expect(list.status).toBe(200);
    expect(list.headers.get("ratelimit-policy")).toBe('"requests";q=6;w=60');
    expect(list.headers.get("ratelimit")).toMatch(/^"requests";r=5;t=\d+$/);
    const path = `/v1/collections/${collections.acme}/documents`;
    const first = await acme.post(path, { text: "The first upload of the minute." });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.headers.get("ratelimit-policy")).toBe('"uploads";q=2;w=60');
    expect(first.headers.get("ratelimit")).toMatch(/^"uploads";r=1;t=\d+$/);
    expect((await acme.post(path, { text: "The second upload of the minute." })).status).toBe(202);
    const third = await acme.post(path, { text: "The third upload of the minute." });
    expect(third.status).toBe(429);
    expect(third.body.error).toMatchObject({ code: "RATE_LIMITED", details: { budget: "uploads" } });
    expect(third.headers.get("retry-after")).toMatch(/^\d+$/);
    // Neither the uploads nor the queries touched the rest: one request spent, one more now.
    const again = await acme.get("/v1/collections");
    expect(again.status).toBe(200);
    expect(again.headers.get("ratelimit")).toMatch(/^"requests";r=4;t=\d+$/);
  });

  it("limits each key on its own: another key of the same tenant, and another tenant, are unaffected", async () => {
    const other = await search(client(KEYS.acme2), collections.acme!);
    expect(other.status).toBe(200);
    expect(other.headers.get("ratelimit")).toMatch(/^"queries";r=2;t=\d+$/);
    const globex = await search(client(KEYS.globex), collections.globex!);
    expect(globex.status).toBe(200);
    expect(globex.headers.get("ratelimit")).toMatch(/^"queries";r=2;t=\d+$/);
  });

  it("holds across two api processes sharing Redis", async () => {
    const onFirst = client(KEYS.initech);
    const onSecond = client(KEYS.initech, second.url);
    expect((await search(onFirst, collections.initech!)).headers.get("ratelimit")).toMatch(/r=2;/);
    expect((await search(onSecond, collections.initech!)).headers.get("ratelimit")).toMatch(/r=1;/);
    expect((await search(onFirst, collections.initech!)).headers.get("ratelimit")).toMatch(/r=0;/);
    const refused = await search(onSecond, collections.initech!);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("RATE_LIMITED");
    expect((await search(onFirst, collections.initech!)).status).toBe(429);
  });

  it("does not limit the operator's admin token, nor count requests with a bad key", async () => {
    const admin = client(ADMIN);
    for (let i = 0; i < 8; i++) {
      const res = await admin.get("/v1/jobs");
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
    }
    for (let i = 0; i < 8; i++) expect((await client("not-a-configured-key").get("/v1/collections")).status).toBe(401);
    // The initech setup key spent 1 request of its 6 (creating the collection).
    expect((await client(KEYS.initechSetup).get("/v1/collections")).headers.get("ratelimit")).toMatch(/^"requests";r=4;/);
  });

  describe("security headers", () => {
    it("puts helmet's headers and a no-content CSP on JSON answers, errors included", async () => {
      for (const res of [await client(ADMIN).get("/v1/jobs"), await apiClient(stack.url).get("/v1/collections"), await apiClient(stack.url).get("/health")]) {
        expect(res.headers.get("content-security-policy")).toBe("default-src 'none';frame-ancestors 'none'");
        expect(res.headers.get("x-content-type-options")).toBe("nosniff");
        expect(res.headers.get("x-frame-options")).toBe("DENY");
        expect(res.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
        expect(res.headers.get("referrer-policy")).toBe("no-referrer");
        expect(res.headers.get("cross-origin-opener-policy")).toBe("same-origin");
        expect(res.headers.get("x-powered-by")).toBeNull();
      }
    });

    it("lets /docs run Swagger UI: its one inline script by hash, its assets from this origin", async () => {
      const page = await fetch(`${stack.url}/docs`);
      const html = await page.text();
      const csp = page.headers.get("content-security-policy") ?? "";
      const inline = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
      expect(inline).toHaveLength(1);
      const hash = createHash("sha256").update(inline[0]!).digest("base64");
      expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
      expect(csp).not.toContain("upgrade-insecure-requests");
      expect(csp).toContain("default-src 'self'");
      for (const asset of ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"]) {
        const res = await fetch(`${stack.url}${asset}`);
        expect(res.status).toBe(200);
        expect(res.headers.get("x-content-type-options")).toBe("nosniff");
        await res.arrayBuffer();
      }
    });

    it.skipIf(!existsSync("/usr/bin/chromium"))("renders /docs in Chromium with no CSP violation", async () => {
      const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") problems.push(m.text());
        });
        page.on("pageerror", (e) => problems.push(e.message));
        await page.goto(`${stack.url}/docs`);
        await page.waitForSelector(".swagger-ui .info .title", { timeout: 20_000 });
        expect(await page.textContent(".swagger-ui .info .title")).toContain("Quarry");
        // The operations rendered from /openapi.json (fetched under the page's connect-src).
        await page.waitForSelector(".opblock", { timeout: 20_000 });
        expect(problems.filter((p) => /Content Security Policy|Refused to/i.test(p))).toEqual([]);
      } finally {
        await browser.close();
      }
    }, 60_000);

    it("leaves Bull Board's pages (/admin/queues) to their own CSP", async () => {
      const res = await fetch(`${stack.url}/admin/queues`);
      await res.arrayBuffer();
      expect(res.headers.get("content-security-policy") ?? "").not.toContain("default-src 'none'");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    });
  });

  describe("CORS", () => {
    it("allows only the listed origins, and exposes the rate-limit headers to them", async () => {
      const allowed = await fetch(`${stack.url}/health`, { headers: { origin: ALLOWED_ORIGIN } });
      expect(allowed.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
      expect(allowed.headers.get("access-control-expose-headers")?.split(",")).toEqual(expect.arrayContaining(["Retry-After", "RateLimit", "RateLimit-Policy"]));
      const other = await fetch(`${stack.url}/health`, { headers: { origin: "https://evil.example.com" } });
      expect(other.status).toBe(200);
      expect(other.headers.get("access-control-allow-origin")).toBeNull();
    });

    it("answers a preflight from a listed origin only", async () => {
      const preflight = (origin: string) =>
        fetch(`${stack.url}/v1/collections`, {
          method: "OPTIONS",
          headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
        });
      const allowed = await preflight(ALLOWED_ORIGIN);
      expect(allowed.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
      expect(allowed.headers.get("access-control-allow-methods")).toContain("POST");
      const refused = await preflight("https://evil.example.com");
      // (the cors package still lists its methods; without an allow-origin the browser refuses anyway)
      expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    });
  });
});

describe("rate limits while Redis is unreachable", () => {
  let env: TestEnv;
  let api: Awaited<ReturnType<typeof startApi>>;
  const lines: Json[] = [];

  beforeAll(async () => {
    env = createTestEnv({ REDIS_URL: "redis://127.0.0.1:1", RATE_LIMIT_REQUESTS: "1", RATE_LIMIT_QUERIES: "1", RATE_LIMIT_UPLOADS: "1" });
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    api = await startApi(env.env, logger);
  });
  afterAll(async () => {
    await api?.stop();
    await env?.cleanup();
  });

  it("fail open: reads still answer, new work gets the queue's 503, and the outage is logged once, not per request", async () => {
    const acme = apiClient(api.url, "acme-key-0001");
    const created = await acme.post("/v1/collections", { name: "no-redis" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    for (let i = 0; i < 5; i++) {
      const res = await acme.get("/v1/collections");
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
    }
    expect((await acme.post(`/v1/collections/${created.body.id}/search`, { query: "anything" })).status).toBe(200);
    const upload = await acme.post(`/v1/collections/${created.body.id}/documents`, { text: "Cannot be queued." });
    expect(upload.status).toBe(503);
    expect(upload.body.error.code).toBe("QUEUE_UNAVAILABLE");
    const warned = lines.filter((l) => l.msg === "rate limits not enforced: redis unavailable");
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40 });
  });
});

describe("per-tenant queue caps", () => {
  let stack: TestStack;
  const keys = { acme: "acme-key-0001", globex: "globex-key-0002", hooli: "hooli-key-0003", umbrella: "umbrella-key-0004", wonka: "wonka-key-0005" };
  const collections: Record<string, string> = {};
  const upload = (tenant: keyof typeof keys, text: string) => apiClient(stack.url, keys[tenant]).post(`/v1/collections/${collections[tenant]}/documents`, { text });
  const queued = (tenant: string) => stack.deps.documents.queuedTotals(tenant);

  beforeAll(async () => {
    stack = await startTestStack({
      // Workers serve workflows only: uploaded documents stay queued, as behind a busy ingest queue.
      workers: true,
      env: {
        API_KEYS: Object.entries(keys)
          .map(([tenant, key]) => `${tenant}:${key}`)
          .join(","),
        TENANT_MAX_QUEUED_DOCUMENTS: "3",
        TENANT_MAX_QUEUED_BYTES: "1000",
        WORKER_QUEUES: "workflow",
      },
    });
    for (const [tenant, key] of Object.entries(keys)) {
      const res = await apiClient(stack.url, key).post("/v1/collections", { name: `${tenant}-caps` });
      expect(res.status).toBe(201);
      collections[tenant] = res.body.id;
    }
  });
  afterAll(() => stack?.stop());

  it("refuses a tenant's upload with 429 TENANT_QUEUE_FULL once it has TENANT_MAX_QUEUED_DOCUMENTS queued; the same content again is not counted", async () => {
    const accepted = [];
    for (const text of ["First note.", "Second note.", "Third note."]) {
      const res = await upload("acme", text);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      accepted.push(res.body.document.id as string);
    }
    const refused = await upload("acme", "Fourth note.");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("30");
    expect(refused.body.error).toMatchObject({ code: "TENANT_QUEUE_FULL", retry_after: 30, details: { queued_documents: 3, max_queued_documents: 3 } });
    // Re-uploading queued content answers the existing document.
    const again = await upload("acme", "First note.");
    expect(again.status).toBe(200);
    expect(again.body.document.id).toBe(accepted[0]);
    // Another tenant's queue is its own.
    expect((await upload("globex", "Globex's note.")).status).toBe(202);
    // Once a document has been ingested, there is room again.
    await stack.deps.documents.markReady(accepted[0]!);
    expect((await upload("acme", "Fourth note.")).status).toBe(202);
    expect(await queued("acme")).toEqual({ documents: 3, bytes: expect.any(Number) });
  });

  it("refuses bytes past TENANT_MAX_QUEUED_BYTES with 429, and a document larger than the whole cap with 413", async () => {
    expect((await upload("hooli", "a".repeat(600))).status).toBe(202);
    const over = await upload("hooli", "b".repeat(500));
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBe("30");
    expect(over.body.error).toMatchObject({ code: "TENANT_QUEUE_BYTES_FULL", details: { queued_bytes: 600, size_bytes: 500, max_queued_bytes: 1000 } });
    expect((await upload("hooli", "c".repeat(400))).status).toBe(202); // exactly the cap
    expect((await upload("hooli", "d")).body.error.code).toBe("TENANT_QUEUE_BYTES_FULL");
    const never = await upload("hooli", "e".repeat(1500));
    expect(never.status).toBe(413);
    expect(never.headers.get("retry-after")).toBeNull();
    expect(never.body.error).toMatchObject({ code: "TENANT_QUEUE_BYTES_FULL", details: { size_bytes: 1500, max_queued_bytes: 1000 } });
    expect(await queued("hooli")).toEqual({ documents: 2, bytes: 1000 });
  });

  it("lets no concurrent upload slip past the document cap", async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => upload("umbrella", `Concurrent note number ${i}.`)));
    expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 202, 429, 429, 429, 429, 429]);
    expect(answers.filter((a) => a.status === 429).every((a) => a.body.error.code === "TENANT_QUEUE_FULL")).toBe(true);
    expect((await queued("umbrella")).documents).toBe(3);
  });

  it("lets no concurrent upload slip past the bytes cap", async () => {
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => upload("wonka", String(i).repeat(400))));
    expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 429, 429, 429]);
    expect(answers.filter((a) => a.status === 429).every((a) => a.body.error.code === "TENANT_QUEUE_BYTES_FULL")).toBe(true);
    expect(await queued("wonka")).toEqual({ documents: 2, bytes: 800 });
  });

  it("is a retryable error for a workflow's ingest step", async () => {
    // acme's queue is full (above).
    await expect(acceptDocument(stack.deps, "acme", collections.acme!, { content: Buffer.from("From a use case."), mimeType: "text/plain" })).rejects.toMatchObject({
      code: "TENANT_QUEUE_FULL",
      httpStatus: 429,
      retryable: true,
      retryAfter: 30,
    });
    const acme = apiClient(stack.url, keys.acme);
    const workflow = await acme.post("/v1/workflows", {
      name: "ingest-when-full",
      steps: [{ id: "add", type: "ingest", retries: 0, with: { collection_id: collections.acme, text: "{{input.note}}" } }],
    });
    expect(workflow.status, JSON.stringify(workflow.body)).toBe(201);
    const started = await acme.post(`/v1/workflows/${workflow.body.id}/runs`, { input: { note: "Added by a workflow." } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const run = await waitFor(async () => {
      const r = (await acme.get(`/v1/workflow-runs/${started.body.run.id}`)).body;
      return ["succeeded", "failed", "cancelled"].includes(r.status) ? r : undefined;
    }, 30_000, "the run to end");
    expect(run).toMatchObject({ status: "failed", error: { code: "TENANT_QUEUE_FULL" } });
    expect(run.steps[0]).toMatchObject({ id: "add", status: "failed", error: { code: "TENANT_QUEUE_FULL" } });
  });
});
