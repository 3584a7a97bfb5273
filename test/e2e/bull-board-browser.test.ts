/**
 * Bull Board in a real browser: Debian's Chromium driven by playwright-core (no browser download;
 * .ci/run installs the `chromium` package). An operator logs in with the admin password, sees every
 * queue with its counts, opens a failed job and reads its error but no document text; a browser
 * without the password, or with a wrong one, gets 401; a page on another site cannot use the
 * operator's credentials to change anything; a read-only board refuses writes on the server.
 */
import { existsSync } from "node:fs";
import http, { type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../api/app.ts";
import { QUEUE_NAMES } from "../../shared/config/env.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CHROMIUM = "/usr/bin/chromium";
// The flags the machines here need (env: node-svc): without the background-networking ones Chromium
// keeps dialling out through a closed network.
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const ADMIN = "browser-admin-token-0001";
const BOARD = "/admin/queues";
const CANARIES = ["HERON-TEXT-4410", "HERON-TITLE-4410", "HERON-META-4410"];

const listen = (handler: http.RequestListener) =>
  new Promise<Server>((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
const portOf = (server: Server) => (server.address() as AddressInfo).port;

// Each test loads the board's scripts in a fresh browser context: slow on a busy machine.
describe.skipIf(!existsSync(CHROMIUM))(`Bull Board in Chromium (skipped when ${CHROMIUM} is missing: apt-get install chromium)`, { timeout: 90_000 }, () => {
  let stack: TestStack;
  let acme: ApiClient;
  let browser: Browser;
  let readOnlyUrl: string;
  const servers: Server[] = [];
  const contexts: BrowserContext[] = [];
  const jobs = { failed: "", succeeded: "", failedDocument: "" };
  /** Every answer of the board the browser received, and every console line about the page's policy. */
  const seen: string[] = [];
  const cspViolations: string[] = [];

  /** A page in a context of its own; requests leaving this machine (Google Fonts) are dropped. */
  async function newPage(credentials?: { username: string; password: string }): Promise<Page> {
    const context = await browser.newContext(credentials ? { httpCredentials: credentials } : {});
    contexts.push(context);
    await context.route((url) => !["127.0.0.1", "localhost"].includes(url.hostname), (route) => route.abort());
    const page = await context.newPage();
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on("response", async (res) => {
      if (new URL(res.url()).pathname.startsWith(BOARD)) seen.push(await res.text().catch(() => ""));
    });
    return page;
  }
  const admin = { username: "admin", password: ADMIN };

  beforeAll(async () => {
    stack = await startTestStack({ workers: true, env: { ADMIN_TOKEN: ADMIN, VECTOR_MAINTENANCE_AFTER_WRITES_MS: "0" } }); // no maintenance job changing the counts
    acme = apiClient(stack.url, TEST_KEYS.acme);
    const collection = (await acme.post("/v1/collections", { name: "herons" })).body;
    const empty = await acme.post(`/v1/collections/${collection.id}/documents`, { text: " \n \n", title: "HERON-TITLE-4410", metadata: { note: "HERON-META-4410" } });
    const good = await acme.post(`/v1/collections/${collection.id}/documents`, { text: "Herons stand still for hours. HERON-TEXT-4410 is in this sentence.", title: "HERON-TITLE-4410" });
    jobs.failed = empty.body.job.id;
    jobs.failedDocument = empty.body.document.id;
    jobs.succeeded = good.body.job.id;
    for (const id of [jobs.failed, jobs.succeeded]) {
      await waitFor(async () => ["succeeded", "failed"].includes((await acme.get(`/v1/jobs/${id}`)).body.status), 30_000, `job ${id}`);
    }
    const readOnly = await listen(createApp({ ...stack.deps, config: { ...stack.deps.config, BULL_BOARD_READ_ONLY: true } }));
    servers.push(readOnly);
    readOnlyUrl = `http://127.0.0.1:${portOf(readOnly)}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 90_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await stack?.stop();
  });

  it("opens with the admin password and shows every queue with its counts", async () => {
    const page = await newPage(admin);
    const res = await page.goto(`${stack.url}${BOARD}`);
    expect(res?.status()).toBe(200);
    const api = (await apiClient(stack.url, ADMIN).get(`${BOARD}/api/queues`)).body.queues as Json[];
    for (const name of QUEUE_NAMES) {
      const counts = api.find((q) => q.name === name)!.counts as Record<string, number>;
      const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
      const card = page.locator("main li").filter({ has: page.locator(`a[title="${name}"]`) });
      await expect.poll(() => card.innerText(), { timeout: 10_000 }).toContain(`${total} Job${total === 1 ? "" : "s"}`);
    }
    const ingest = page.locator("main li").filter({ has: page.locator('a[title="ingest"]') });
    expect(await ingest.innerText()).toMatch(/FAILED\s+1/);
  });

  it("opens a failed job and finds its error, its ids, and no document text, title or metadata", async () => {
    const page = await newPage(admin);
    await page.goto(`${stack.url}${BOARD}/queue/ingest/${jobs.failed}`);
    await expect.poll(() => page.locator("main").innerText(), { timeout: 10_000 }).toContain("NO_TEXT: the document contains no text");
    await page.getByRole("tab", { name: "Data" }).click();
    await expect.poll(() => page.locator("main").innerText(), { timeout: 5_000 }).toContain(jobs.failedDocument);
    await page.goto(`${stack.url}${BOARD}/queue/ingest?status=completed`);
    await expect.poll(() => page.locator("main").innerText(), { timeout: 10_000 }).toContain(jobs.succeeded);
    seen.push(await page.content());
    for (const text of seen) for (const canary of CANARIES) expect(text).not.toContain(canary);
    expect(cspViolations).toEqual([]);
  });

  it("refuses a browser without the password, and with a wrong one (401)", async () => {
    for (const credentials of [undefined, { username: "admin", password: "not-the-admin-token" }, { username: "root", password: ADMIN }]) {
      const page = await newPage(credentials);
      const served: string[] = [];
      page.on("response", (r) => {
        if (r.ok()) served.push(r.url());
      });
      const answered = page.waitForResponse((r) => new URL(r.url()).pathname === BOARD);
      // Headless Chromium cannot ask for a password: without one the navigation fails, with a wrong one it shows the 401.
      await page.goto(`${stack.url}${BOARD}`).catch((err: Error) => expect(err.message).toContain("ERR_INVALID_AUTH_CREDENTIALS"));
      const res = await answered;
      expect(res.status(), JSON.stringify(credentials)).toBe(401);
      expect(await res.headerValue("www-authenticate")).toBe('Basic realm="Quarry admin"');
      expect(served).toEqual([]); // not the page, not a script, not the API
    }
  });

  it("lets the board's own page remove a failed job, and explains in the page what it refuses", async () => {
    const page = await newPage(admin);
    await page.goto(`${stack.url}${BOARD}/queue/ingest/${jobs.failed}`);
    await expect.poll(() => page.locator("main").innerText(), { timeout: 10_000 }).toContain("NO_TEXT");

    const retried = page.waitForResponse((r) => r.url().endsWith(`/${jobs.failed}/retry`));
    await page.locator("main button:has(svg.lucide-refresh-cw)").first().click();
    await page.getByRole("button", { name: "Confirm" }).click();
    const retry = await retried;
    expect(retry.status()).toBe(409);
    expect(((await retry.json()) as Json).error.code).toBe("BULL_BOARD_JOB_REFUSED");
    await expect.poll(() => page.locator("body").innerText(), { timeout: 5_000 }).toContain(`POST /v1/jobs/${jobs.failed}/retry`);

    const cleaned = page.waitForResponse((r) => r.url().endsWith(`/${jobs.failed}/clean`));
    await page.locator("main button:has(svg.lucide-trash-2)").first().click();
    await page.getByRole("button", { name: "Confirm" }).click();
    const clean = await cleaned;
    expect(clean.status()).toBe(204);
    // What passed the CSRF rule: the board's page names its own origin on its writes.
    expect((await clean.request().allHeaders()).origin).toBe(stack.url);
    expect(await stack.deps.producer.queue("ingest").getJob(jobs.failed)).toBeUndefined();
    expect((await acme.get(`/v1/jobs/${jobs.failed}`)).body.status).toBe("failed");
  });

  it("refuses writes that a page on another site makes with the operator's credentials (403 CSRF_REJECTED)", async () => {
    const board = stack.url;
    // "localhost" is another origin than the board's "127.0.0.1". Forms need no CORS preflight,
    // so they are what a hostile page would send. (A cross-site PUT
    // from fetch is stopped earlier still: its preflight carries no credentials and gets 401.)
    const evil = await listen((req, res) => {
      const target = new URL(req.url!, "http://localhost").searchParams.get("target")!;
      res.setHeader("content-type", "text/html");
      res.end(`<form id="f" method="POST" action="${board}${target}" enctype="text/plain"><input name="x" value="y"></form><script>document.getElementById("f").submit()</script>`);
    });
    servers.push(evil);
    const page = await newPage(admin);
    await page.goto(`${stack.url}${BOARD}`); // the operator is logged in
    const counts = async () => ((await apiClient(stack.url, ADMIN).get(`${BOARD}/api/queues`)).body.queues as Json[]).map((q) => q.counts);
    const before = await counts();
    for (const target of [`${BOARD}/api/queues/ingest/add`, `${BOARD}/api/queues/backup/pause`, "/v1/backups"]) {
      const answered = page.waitForResponse((r) => r.request().method() === "POST" && r.url() === `${board}${target}` && r.status() !== 401);
      await page.goto(`http://localhost:${portOf(evil)}/?target=${encodeURIComponent(target)}`);
      const res = await answered;
      expect(res.status(), target).toBe(403);
      // The password was right (a wrong one is 401): what refused it is where it came from.
      expect(((await res.json()) as Json).error).toMatchObject({ code: "CSRF_REJECTED", message: expect.stringContaining("cross-site page (Sec-Fetch-Site)") });
    }
    expect(await counts()).toEqual(before);
    expect((await apiClient(stack.url, ADMIN).get("/v1/backups")).body.data).toEqual([]);
  });

  it("in read-only mode shows no buttons that change anything, and refuses a write from its own page on the server", async () => {
    const page = await newPage(admin);
    await page.goto(`${readOnlyUrl}${BOARD}/queue/ingest/${jobs.succeeded}`);
    await expect.poll(() => page.locator("main").innerText(), { timeout: 10_000 }).toContain("ingest_document");
    expect(await page.locator("main button:has(svg.lucide-trash-2), main button:has(svg.lucide-refresh-cw)").count()).toBe(0);
    const answer = await page.evaluate(async (path) => {
      const res = await fetch(path, { method: "PUT" });
      return { status: res.status, body: (await res.json()) as Json };
    }, `${BOARD}/api/queues/ingest/${jobs.succeeded}/clean`);
    expect(answer).toMatchObject({ status: 403, body: { error: { code: "BULL_BOARD_READ_ONLY" } } });
    expect(await stack.deps.producer.queue("ingest").getJob(jobs.succeeded)).toBeDefined();
  });
});
