import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS } from "../helpers/test-env.ts";

/**
 * A file batch (or a store created with file_ids) meets the tenant's queue caps as a whole, before
 * any file is attached. No workers run, so whatever is attached stays queued.
 */

let stack: TestStack;
let acme: ApiClient;

async function upload(name: string): Promise<string> {
  const form = new FormData();
  form.append("purpose", "assistants");
  form.append("file", new Blob([`the text of ${name}, which is about caps`]), name);
  const res = await fetch(`${stack.url}/v1/files`, { method: "POST", headers: { authorization: `Bearer ${TEST_KEYS.acme}` }, body: form });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

beforeAll(async () => {
  stack = await startTestStack({ env: { TENANT_MAX_QUEUED_DOCUMENTS: "3", VECTOR_MAINTENANCE_AFTER_WRITES_MS: "0" } });
  acme = apiClient(stack.url, TEST_KEYS.acme);
});

afterAll(async () => {
  await stack?.stop();
});

it("refuses a batch of more new files than the caps allow at all (413), and one that does not fit now (429), attaching none", async () => {
  const ids = [await upload("a.txt"), await upload("b.txt"), await upload("c.txt"), await upload("d.txt")];
  const store = (await acme.post("/v1/vector_stores", { name: "caps" })).body.id as string;
  const files = async () => ((await acme.get(`/v1/vector_stores/${store}/files`)).body as { data: Array<{ id: string }> }).data.map((f) => f.id).sort();

  const tooMany = await acme.post(`/v1/vector_stores/${store}/file_batches`, { file_ids: ids });
  expect(tooMany.status).toBe(413);
  expect(tooMany.body.error).toMatchObject({ code: "tenant_queue_full", type: "invalid_request_error" });
  expect(await files()).toEqual([]);
  // A store created with them is refused the same way, and leaves no store behind.
  const before = ((await acme.get("/v1/vector_stores")).body as { data: unknown[] }).data.length;
  expect((await acme.post("/v1/vector_stores", { name: "caps 2", file_ids: ids })).status).toBe(413);
  expect(((await acme.get("/v1/vector_stores")).body as { data: unknown[] }).data.length).toBe(before);

  // Two queued; three more would make five.
  const first = await acme.post(`/v1/vector_stores/${store}/file_batches`, { file_ids: ids.slice(0, 2) });
  expect(first.status).toBe(200);
  expect(first.body.file_counts).toMatchObject({ in_progress: 2, total: 2 });
  const later = await acme.post(`/v1/vector_stores/${store}/file_batches`, { file_ids: ids.slice(1) });
  expect(later.status).toBe(429);
  expect(later.headers.get("retry-after")).toBe("30");
  expect(later.body.error.code).toBe("tenant_queue_full");
  expect(await files()).toEqual(ids.slice(0, 2).sort());

  // Files already in the store do not count: the same two again, plus one, fit.
  const again = await acme.post(`/v1/vector_stores/${store}/file_batches`, { file_ids: ids.slice(0, 3) });
  expect(again.status).toBe(200);
  expect(again.body.file_counts).toMatchObject({ in_progress: 3, total: 3 });
  expect(await files()).toEqual(ids.slice(0, 3).sort());
});
