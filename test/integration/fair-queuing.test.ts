/**
 * Tenant fairness: a tenant's n-th waiting document is queued with priority n, so another
 * tenant's single document does not wait behind a flood. The order is read off BullMQ itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

let fair: TestStack;
let fifo: TestStack;

beforeAll(async () => {
  [fair, fifo] = await Promise.all([startTestStack({ workers: true }), startTestStack({ workers: true, env: { TENANT_FAIR_QUEUING: "false" } })]);
});
afterAll(async () => {
  await Promise.all([fair?.stop(), fifo?.stop()]);
});

/** Six documents of a flooding tenant, then one of another tenant, with the workers paused; the queue's order. */
async function queueOrder(stack: TestStack): Promise<{ order: string[]; small: string; priorities: Map<string, number> }> {
  const acme = apiClient(stack.url, TEST_KEYS.acme);
  const globex = apiClient(stack.url, TEST_KEYS.globex);
  const [big, other] = await Promise.all([acme.post("/v1/collections", { name: "flood" }), globex.post("/v1/collections", { name: "one" })]);
  const workers = stack.workers!.workers;
  await Promise.all(workers.map((w) => w.pause()));
  try {
    for (let i = 0; i < 6; i++) expect((await acme.post(`/v1/collections/${big.body.id}/documents`, { text: `flood document ${i}` })).status).toBe(202);
    const small = (await globex.post(`/v1/collections/${other.body.id}/documents`, { text: "the other tenant's only document" })).body.job.id as string;
    const queue = stack.deps.producer.queue("ingest");
    const waiting = [...(await queue.getJobs(["prioritized"], 0, -1, true)), ...(await queue.getJobs(["wait"], 0, -1, true))];
    return { order: waiting.map((j) => j.id!), small, priorities: new Map(waiting.map((j) => [j.id!, j.opts.priority ?? 0])) };
  } finally {
    await Promise.all(workers.map((w) => w.resume()));
  }
}

describe("fair queuing of ingest jobs", () => {
  it("puts another tenant's first document ahead of a flooding tenant's second", async () => {
    const { order, small, priorities } = await queueOrder(fair);
    expect(order).toHaveLength(7);
    expect(priorities.get(small)).toBe(1);
    expect([...priorities.values()].sort((a, b) => a - b)).toEqual([1, 1, 2, 3, 4, 5, 6]);
    // The flooding tenant's first document came first (same priority, earlier), then the other's.
    expect(order.indexOf(small)).toBe(1);
    const acme = apiClient(fair.url, TEST_KEYS.acme);
    await waitFor(async () => (await acme.get("/v1/jobs?status=succeeded&limit=100")).body.data.length === 6, 30_000, "the flood to be ingested");
  });

  it("without it (TENANT_FAIR_QUEUING=false) is first come, first served", async () => {
    const { order, small, priorities } = await queueOrder(fifo);
    expect(order).toHaveLength(7);
    expect(order.indexOf(small)).toBe(6);
    expect([...priorities.values()].every((p) => p === 0)).toBe(true);
  });
});
