/**
 * A vector store through a backup: restored IN PLACE, it keeps its id, name, metadata, files and
 * their attributes (the store rows reference the collection with deferred foreign keys, so the
 * restore's delete-and-reinsert of the collection row in one transaction leaves them be); deleted
 * afterwards, the collection's deletion job removes the store and file batch rows with it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

const ADMIN = "openai-backup-admin-token-0001";
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SAME = "Penguins huddle together through the antarctic winter to keep warm while the males guard the eggs.";
const OTHER = "The lighthouse keeper trimmed the lamp wick every evening and logged passing ships by name.";
const LATE = "A note attached after the backup about volcanic islands rising from the ocean floor.";

let stack: TestStack;
let acme: ApiClient;
let admin: ApiClient;

const ENDED = ["succeeded", "failed", "cancelled"];
async function jobEnds(client: ApiClient, jobId: string, timeoutMs = 60_000): Promise<Json> {
  return waitFor(async () => {
    const res = await client.get(`/v1/jobs/${jobId}`);
    return ENDED.includes(res.body?.status) ? (res.body as Json) : undefined;
  }, timeoutMs, `job ${jobId} to end`);
}

/** `POST /v1/files`, multipart, purpose `assistants`. */
async function uploadOpenAiFile(name: string, text: string): Promise<Json> {
  const form = new FormData();
  form.append("purpose", "assistants");
  form.append("file", new Blob([new TextEncoder().encode(text)], { type: "text/plain" }), name);
  const res = await fetch(`${stack.url}/v1/files`, { method: "POST", headers: { authorization: `Bearer ${TEST_KEYS.acme}` }, body: form });
  const body = (await res.json()) as Json;
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body).toMatchObject({ object: "file", filename: name, purpose: "assistants", status: "processed" });
  return body;
}

async function attachAndWait(storeId: string, fileId: string, attributes?: Record<string, string | number | boolean>): Promise<Json> {
  const res = await acme.post(`/v1/vector_stores/${storeId}/files`, { file_id: fileId, ...(attributes ? { attributes } : {}) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const done = await waitFor(async () => {
    const file = await acme.get(`/v1/vector_stores/${storeId}/files/${fileId}`);
    return file.body?.status !== "in_progress" ? (file.body as Json) : undefined;
  }, 60_000, `vector store file ${fileId} to end`);
  expect(done, JSON.stringify(done)).toMatchObject({ id: fileId, status: "completed", last_error: null });
  return done;
}

const count = async (sql: string, params: unknown[]): Promise<number> => (await stack.deps.db.query<{ n: number }>(sql, params)).rows[0]!.n;

let storeId: string;
let collectionId: string;
let store: Json;
let twin: Json; // SAME bytes, with attributes
let twinB: Json; // SAME bytes, another name
let other: Json;
let batchId: string;
let backupId: string;

beforeAll(async () => {
  stack = await startTestStack({
    workers: true,
    env: { ADMIN_TOKEN: ADMIN, BACKUP_CRON: "off", VECTOR_MAINTENANCE_AFTER_WRITES_MS: "0" },
  });
  acme = apiClient(stack.url, TEST_KEYS.acme);
  admin = apiClient(stack.url, ADMIN);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe("a vector store through a backup", () => {
  it("is set up: three completed files (two with identical bytes), one with attributes, and a file batch", { timeout: 90_000 }, async () => {
    const created = await acme.post("/v1/vector_stores", { name: "penguin-handbook", metadata: { team: "polar", tier: "gold" } });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    store = created.body;
    storeId = store.id;
    expect(storeId).toMatch(/^vs_/);
    collectionId = (await stack.deps.db.query<{ collection_id: string }>("SELECT collection_id FROM vector_stores WHERE id = $1", [storeId])).rows[0]!.collection_id;

    twin = await uploadOpenAiFile("penguins.txt", SAME);
    twinB = await uploadOpenAiFile("penguins-copy.txt", SAME);
    other = await uploadOpenAiFile("lighthouse.txt", OTHER);
    expect(twin.id).not.toBe(twinB.id);
    expect(twin.bytes).toBe(twinB.bytes);

    await attachAndWait(storeId, twin.id, { topic: "birds", year: 2024 });
    await attachAndWait(storeId, twinB.id);
    await attachAndWait(storeId, other.id);

    // A batch over a file the store already has: a batch row of this store, listing that file.
    const batch = await acme.post(`/v1/vector_stores/${storeId}/file_batches`, { file_ids: [other.id] });
    expect(batch.status, JSON.stringify(batch.body)).toBe(200);
    batchId = batch.body.id;
    expect(batch.body.file_counts).toMatchObject({ completed: 1, total: 1 });

    const got = await acme.get(`/v1/vector_stores/${storeId}`);
    expect(got.body).toMatchObject({ id: storeId, name: "penguin-handbook", metadata: { team: "polar", tier: "gold" }, status: "completed" });
    expect(got.body.file_counts).toMatchObject({ completed: 3, in_progress: 0, failed: 0, total: 3 });
  });

  it("comes back after an IN-PLACE restore: same id, name, metadata, files, attributes and filtered search", { timeout: 120_000 }, async () => {
    const before = (await acme.get(`/v1/vector_stores/${storeId}/files?limit=100`)).body as Json;
    expect(before.data).toHaveLength(3);

    const backup = await admin.post("/v1/backups", {});
    expect(backup.status, JSON.stringify(backup.body)).toBe(202);
    const backupJob = await jobEnds(admin, backup.body.job.id);
    expect(backupJob, JSON.stringify(backupJob)).toMatchObject({ type: "create_backup", status: "succeeded" });
    backupId = backup.body.backup.id;
    const listed = await admin.get(`/v1/backups/${backupId}`);
    expect(listed.body.collections).toEqual([expect.objectContaining({ id: collectionId, tenant_id: "acme", name: storeId, documents: 3 })]);

    // Live data after the backup, which the in-place restore must drop: a fourth file.
    const late = await uploadOpenAiFile("volcanoes.txt", LATE);
    await attachAndWait(storeId, late.id);
    expect((await acme.get(`/v1/vector_stores/${storeId}`)).body.file_counts.completed).toBe(4);

    const restore = await admin.post(`/v1/backups/${backupId}/restore`, { collection_ids: [collectionId], as_new_collection: false });
    expect(restore.status, JSON.stringify(restore.body)).toBe(202);
    const job = await jobEnds(admin, restore.body.job.id, 90_000);
    expect(job, JSON.stringify(job)).toMatchObject({
      type: "restore_backup",
      status: "succeeded",
      result: { collections: [expect.objectContaining({ id: collectionId, restored_as: collectionId, documents: 3 })] },
    });

    // The store row outlived the delete-and-reinsert of its collection row.
    expect(await count("SELECT count(*)::int AS n FROM vector_stores WHERE id = $1 AND collection_id = $2", [storeId, collectionId])).toBe(1);
    const got = await acme.get(`/v1/vector_stores/${storeId}`);
    expect(got.status, JSON.stringify(got.body)).toBe(200);
    expect(got.body).toMatchObject({ id: storeId, object: "vector_store", name: "penguin-handbook", metadata: { team: "polar", tier: "gold" }, created_at: store.created_at });
    expect(got.body.file_counts).toMatchObject({ completed: 3, in_progress: 0, failed: 0, cancelled: 0, total: 3 });
    expect(got.body.status).toBe("completed");

    const files = await acme.get(`/v1/vector_stores/${storeId}/files?limit=100`);
    expect(files.status).toBe(200);
    const byId = new Map<string, Json>((files.body.data as Json[]).map((f) => [f.id, f]));
    expect([...byId.keys()].sort()).toEqual([twin.id, twinB.id, other.id].sort());
    expect(byId.get(late.id)).toBeUndefined();
    expect(byId.get(twin.id)).toMatchObject({ status: "completed", vector_store_id: storeId, attributes: { topic: "birds", year: 2024 } });
    expect(byId.get(twinB.id)).toMatchObject({ status: "completed", attributes: {} });
    expect(byId.get(other.id)).toMatchObject({ status: "completed", attributes: {} });
    // Each file as it was before the backup: attributes, chunking, created_at, usage.
    for (const f of before.data as Json[]) expect(byId.get(f.id)).toEqual(f);
    expect((await acme.get(`/v1/vector_stores/${storeId}/files/${twin.id}`)).body).toEqual(byId.get(twin.id));
    expect((await acme.get(`/v1/vector_stores/${storeId}/files/${late.id}`)).status).toBe(404);

    // Unfiltered: both copies of the same bytes are found, each under its own file id and name.
    const all = await acme.post(`/v1/vector_stores/${storeId}/search`, { query: "penguins huddle antarctic winter eggs", max_num_results: 10 });
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    const found = new Set((all.body.data as Json[]).map((h) => h.file_id));
    expect(found.has(twin.id) && found.has(twinB.id)).toBe(true);
    expect(found.has(late.id)).toBe(false);
    expect((all.body.data as Json[]).find((h) => h.file_id === twinB.id)).toMatchObject({ filename: "penguins-copy.txt" });

    // Filtered on the attribute: only that file, though its twin has the very same text.
    const filtered = await acme.post(`/v1/vector_stores/${storeId}/search`, {
      query: "penguins huddle antarctic winter eggs",
      filters: { type: "eq", key: "topic", value: "birds" },
      max_num_results: 10,
    });
    expect(filtered.status, JSON.stringify(filtered.body)).toBe(200);
    expect(filtered.body.data.length).toBeGreaterThan(0);
    expect(new Set((filtered.body.data as Json[]).map((h) => h.file_id))).toEqual(new Set([twin.id]));
    expect(filtered.body.data[0]).toMatchObject({ filename: "penguins.txt", attributes: { topic: "birds", year: 2024 } });
    expect(filtered.body.data[0].content[0].text).toContain("Penguins huddle");

    // The file batch keeps its id (docs/operations.md: it no longer lists its files).
    const batch = await acme.get(`/v1/vector_stores/${storeId}/file_batches/${batchId}`);
    expect(batch.status, JSON.stringify(batch.body)).toBe(200);
    expect(batch.body).toMatchObject({ id: batchId, vector_store_id: storeId });

    // Attaching works again once the restore has ended.
    const again = await attachAndWait(storeId, late.id);
    expect(again.status).toBe("completed");
    expect((await acme.get(`/v1/vector_stores/${storeId}`)).body.file_counts.completed).toBe(4);
  });

  it("is deleted afterwards: the collection's deletion job removes the store and batch rows despite the deferred foreign keys", { timeout: 90_000 }, async () => {
    expect(await count("SELECT count(*)::int AS n FROM vector_store_file_batches WHERE collection_id = $1", [collectionId])).toBe(1);
    const del = await acme.delete(`/v1/vector_stores/${storeId}`);
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    expect(del.body).toEqual({ id: storeId, object: "vector_store.deleted", deleted: true });
    expect((await acme.get(`/v1/vector_stores/${storeId}`)).status).toBe(404);

    const job = await waitFor(async () => {
      const res = await acme.get("/v1/jobs?type=delete_collection&limit=100");
      // The only delete_collection job of this test.
      const jobs = (res.body?.data ?? []) as Json[];
      expect(jobs.length).toBeLessThanOrEqual(1);
      return jobs[0] && ENDED.includes(jobs[0].status) ? jobs[0] : undefined;
    }, 60_000, "the collection's deletion job to end");
    expect(job, JSON.stringify(job)).toMatchObject({ type: "delete_collection", status: "succeeded", attempts: 1, result: { collection_id: collectionId } });
    expect(job.error).toBeUndefined();

    expect(await count("SELECT count(*)::int AS n FROM vector_stores WHERE id = $1", [storeId])).toBe(0);
    expect(await count("SELECT count(*)::int AS n FROM vector_store_file_batches WHERE collection_id = $1", [collectionId])).toBe(0);
    expect(await count("SELECT count(*)::int AS n FROM collections WHERE id = $1", [collectionId])).toBe(0);
    expect(await count("SELECT count(*)::int AS n FROM documents WHERE collection_id = $1", [collectionId])).toBe(0);
    // The files themselves stay: removing a store leaves them.
    for (const f of [twin, twinB, other]) expect((await acme.get(`/v1/files/${f.id}`)).status).toBe(200);
    expect((await acme.get(`/v1/vector_stores/${storeId}`)).status).toBe(404);
    expect((await acme.get(`/v1/collections/${collectionId}`)).status).toBe(404);
  });
});
