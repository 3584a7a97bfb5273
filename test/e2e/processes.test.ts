import { afterAll, describe, expect, it } from "vitest";
import { apiClient } from "../helpers/http.ts";
import { spawnQuarry, type QuarryProcess } from "../helpers/processes.ts";
import { createTestEnv, waitFor } from "../helpers/test-env.ts";

const env = createTestEnv({ LOG_LEVEL: "info" });
const started: QuarryProcess[] = [];
afterAll(async () => {
  for (const p of started) await p.stop("SIGKILL");
  await env.cleanup();
});

describe("the processes", () => {
  it("the scheduler declares its schedules, and a second one started alongside changes nothing", async () => {
    const first = spawnQuarry("scheduler/main.ts", env.env);
    const second = spawnQuarry("scheduler/main.ts", env.env);
    started.push(first, second);
    await first.waitForLog((l) => String(l.msg).startsWith("scheduler ready"));
    await second.waitForLog((l) => String(l.msg).startsWith("scheduler ready"));
    expect(first.logs.filter((l) => l.msg === "job scheduler declared").map((l) => l.scheduler).sort()).toEqual(["nightly-backup", "optimize-vectors"]);
    for (const scheduler of [first, second]) {
      const code = await scheduler.stop("SIGTERM");
      // A null code is a death by signal: say which, with the process's last words.
      expect({ code, signal: scheduler.child.signalCode }, scheduler.output().slice(-2000)).toEqual({ code: 0, signal: null });
    }
  });

  it("`npm start`'s single process runs api, worker and scheduler, prints how to call it, and stops on SIGTERM", { timeout: 60_000 }, async () => {
    const all = spawnQuarry("scripts/start-all.ts", { ...env.env, API_KEYS: "" , NODE_ENV: "development" });
    started.push(all);
    const listening = await all.waitForLog((l) => l.msg === "api listening");
    const url = String(listening.url);
    await waitFor(async () => all.output().includes("Quarry is running at"), 10_000, "the banner");
    expect(all.output()).toContain(`curl -s -X POST ${url}/v1/collections -H 'Authorization: Bearer quarry-dev-key'`);
    const client = apiClient(url, "quarry-dev-key");
    expect((await apiClient(url).get("/ready")).status).toBe(200);
    const collection = await client.post("/v1/collections", { name: "first-run" });
    const doc = await client.post(`/v1/collections/${collection.body.id}/documents`, { text: "Hello from the first run." });
    const job = await waitFor(async () => {
      const body = (await client.get(`/v1/jobs/${doc.body.job.id}`)).body;
      return body.status === "succeeded" ? body : undefined;
    }, 30_000, "the ingest job");
    expect(job.result.chunk_count).toBe(1);
    expect(await all.stop("SIGTERM")).toBe(0);
  });

  it("refuses to start with a bad configuration and names the variable", async () => {
    const bad = spawnQuarry("api/main.ts", { ...env.env, PORT: "eighty", NODE_ENV: "production", API_KEYS: "" });
    started.push(bad);
    const code = await new Promise<number | null>((resolve) => bad.child.once("exit", resolve));
    expect(code).toBe(78);
    expect(bad.output()).toMatch(/PORT: .*"eighty"/);
    expect(bad.output()).toMatch(/API_KEYS: is required when NODE_ENV=production/);
  });
});
