import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileRow } from "../../shared/db/files.repository.ts";
import type { ListParams } from "../../shared/db/openai-list.ts";
import { AppError } from "../../shared/errors/app-error.ts";
import { newFileId } from "../../shared/openai-compat/ids.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS } from "../helpers/test-env.ts";

/**
 * OpenAI-style keyset pagination (shared/db/openai-list.ts) on the files repository, with objects
 * created at the same microsecond (the id breaks the tie), in both orders, with `after` and
 * `before`; and the vector store files list's status filter over HTTP.
 */

let stack: TestStack;
let acme: ApiClient;
const TIE = "2025-03-01T12:00:00.123456Z";

/** Ten acme files: four created at one microsecond, the rest seconds apart around it; two of globex's; one expired. */
let files: FileRow[];
let expired: FileRow;

async function insert(tenant: string, purpose: string, secondsFromTie: number, expiresAt: Date | null = null): Promise<FileRow> {
  const id = newFileId();
  const row = await stack.deps.files.insert({ id, tenant_id: tenant, filename: `${id}.txt`, purpose, bytes: 1, sha256: "0".repeat(64), mime_type: "text/plain", expires_at: expiresAt }, randomBytes(1));
  // A literal with microseconds: the rows at the tie are equal to the microsecond.
  const { rows } = await stack.deps.db.query<{ created_at: Date }>(`UPDATE files SET created_at = $2::timestamptz + make_interval(secs => $3) WHERE id = $1 RETURNING created_at`, [
    id,
    TIE,
    secondsFromTie,
  ]);
  return { ...row, created_at: rows[0]!.created_at };
}

/** The expected order: created_at, then id, as Postgres orders them. */
function sorted(rows: FileRow[], order: "asc" | "desc"): string[] {
  const asc = [...rows].sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return (order === "asc" ? asc : asc.reverse()).map((r) => r.id);
}

const list = (params: Partial<ListParams> & { purpose?: string }, tenant = "acme") => stack.deps.files.list(tenant, { limit: 100, order: "desc", ...params });

beforeAll(async () => {
  stack = await startTestStack({ env: { VECTOR_MAINTENANCE_AFTER_WRITES_MS: "0" } });
  acme = apiClient(stack.url, TEST_KEYS.acme);
  files = [];
  for (const [i, seconds] of [-3, -2, 0, 0, 0, 0, 1, 2, 3, 4].entries()) files.push(await insert("acme", i % 3 === 0 ? "batch" : "assistants", seconds));
  await insert("globex", "assistants", 0);
  await insert("globex", "assistants", 5);
  expired = await insert("acme", "assistants", 0, new Date(Date.now() - 1000));
  // The tie is real: four rows at the same microsecond.
  const { rows } = await stack.deps.db.query(`SELECT count(*)::int AS n FROM files WHERE tenant_id = 'acme' AND created_at = $1`, [TIE]);
  expect(rows[0].n).toBe(5); // four live, one expired
});

afterAll(async () => {
  await stack?.stop();
});

describe("openAiPage over the files repository", () => {
  it("lists in (created_at, id) order both ways, without other tenants' or expired files", async () => {
    expect((await list({})).rows.map((r) => r.id)).toEqual(sorted(files, "desc"));
    expect((await list({ order: "asc" })).rows.map((r) => r.id)).toEqual(sorted(files, "asc"));
    expect((await list({})).hasMore).toBe(false);
    expect((await list({}, "globex")).rows).toHaveLength(2);
    expect((await list({})).rows.map((r) => r.id)).not.toContain(expired.id);
  });

  it("walks every page size with `after`, ties included, in both orders", async () => {
    for (const order of ["asc", "desc"] as const) {
      const expected = sorted(files, order);
      for (let limit = 1; limit <= expected.length + 1; limit++) {
        const seen: string[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 20; pages++) {
          const page = await list({ limit, order, after });
          seen.push(...page.rows.map((r) => r.id));
          expect(page.rows.length, `${order} limit ${limit}`).toBeLessThanOrEqual(limit);
          expect(page.hasMore, `${order} limit ${limit} after ${after}`).toBe(seen.length < expected.length);
          if (!page.hasMore) break;
          after = page.rows.at(-1)!.id;
        }
        expect(seen, `${order} limit ${limit}`).toEqual(expected);
      }
    }
  });

  it("walks back with `before` from the end, in list order, ties included", async () => {
    for (const order of ["asc", "desc"] as const) {
      const expected = sorted(files, order);
      for (let limit = 1; limit <= 4; limit++) {
        const seen: string[] = [expected.at(-1)!];
        let before = expected.at(-1)!;
        for (let pages = 0; pages < 20; pages++) {
          const page = await list({ limit, order, before });
          const pageIds = page.rows.map((r) => r.id);
          // The page is the `limit` objects just before the cursor, in list order.
          const at = expected.indexOf(before);
          expect(pageIds, `${order} limit ${limit} before ${before}`).toEqual(expected.slice(Math.max(0, at - limit), at));
          expect(page.hasMore).toBe(at - limit > 0);
          seen.unshift(...pageIds);
          if (!page.hasMore) break;
          before = pageIds[0]!;
        }
        expect(seen, `${order} limit ${limit}`).toEqual(expected);
      }
    }
  });

  it("filters by purpose, with a cursor of that list", async () => {
    const batch = files.filter((f) => f.purpose === "batch");
    expect((await list({ purpose: "batch" })).rows.map((r) => r.id)).toEqual(sorted(batch, "desc"));
    const first = await list({ purpose: "batch", limit: 1 });
    expect(first.hasMore).toBe(true);
    const rest = await list({ purpose: "batch", after: first.rows[0]!.id });
    expect([...first.rows, ...rest.rows].map((r) => r.id)).toEqual(sorted(batch, "desc"));
    expect((await list({ purpose: "nothing" })).rows).toEqual([]);
  });

  it("refuses a cursor that names no object of the tenant's list: another tenant's, unknown", async () => {
    const globexFile = (await list({}, "globex")).rows[0]!.id;
    for (const [params, field] of [
      [{ after: globexFile }, "after"],
      [{ before: globexFile }, "before"],
      [{ after: `file-${"0".repeat(24)}` }, "after"],
      [{ before: "anything" }, "before"],
    ] as const) {
      const error = await list(params).catch((e: unknown) => e);
      expect(error, JSON.stringify(params)).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: "INVALID_CURSOR", httpStatus: 400, details: [{ field }] });
    }
  });

  it("pages on from a cursor that is hidden from the page (expired, another purpose's) where it stands", async () => {
    const batch = files.filter((f) => f.purpose === "batch");
    const other = files.find((f) => f.purpose === "assistants")!;
    const after = sorted(batch, "desc").filter((id) => sorted([...batch, other], "desc").indexOf(id) > sorted([...batch, other], "desc").indexOf(other.id));
    expect((await list({ after: other.id, purpose: "batch" })).rows.map((r) => r.id)).toEqual(after);
    const live = sorted(files, "desc");
    const afterExpired = sorted([...files, expired], "desc");
    expect((await list({ after: expired.id })).rows.map((r) => r.id)).toEqual(afterExpired.slice(afterExpired.indexOf(expired.id) + 1).filter((id) => live.includes(id)));
  });
});

describe("a list whose objects are deleted while it is paged (the SDK pages with the last id it saw)", () => {
  it("pages on from a deleted file, vector store and vector store file", async () => {
    const upload = async (name: string) => {
      const form = new FormData();
      form.append("purpose", "assistants");
      form.append("file", new Blob([`text of ${name}`]), name);
      const res = await fetch(`${stack.url}/v1/files`, { method: "POST", headers: { authorization: `Bearer ${TEST_KEYS.globex}` }, body: form });
      expect(res.status).toBe(200);
      return ((await res.json()) as { id: string }).id;
    };
    const globex = apiClient(stack.url, TEST_KEYS.globex);
    const ids = [await upload("a.txt"), await upload("b.txt"), await upload("c.txt")];
    const store = (await globex.post("/v1/vector_stores", { name: "cleanup", file_ids: ids })).body.id as string;
    const stores = [store, (await globex.post("/v1/vector_stores", { name: "cleanup 2" })).body.id as string];

    // Delete what each page showed, then ask for the next page after it: a cleanup loop.
    for (const [path, remove] of [
      [`/v1/vector_stores/${store}/files`, (id: string) => globex.delete(`/v1/vector_stores/${store}/files/${id}`)],
      ["/v1/vector_stores", (id: string) => globex.delete(`/v1/vector_stores/${id}`)],
      ["/v1/files", (id: string) => globex.delete(`/v1/files/${id}`)],
    ] as const) {
      const all = ((await globex.get(`${path}?limit=100`)).body as { data: Array<{ id: string }> }).data.map((d) => d.id);
      expect(all.length, path).toBeGreaterThanOrEqual(2);
      if (path === "/v1/files") expect(all).toEqual(expect.arrayContaining(ids));
      else expect(all).toEqual(expect.arrayContaining(path === "/v1/vector_stores" ? stores : ids));
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const res = await globex.get(`${path}?limit=1${after ? `&after=${after}` : ""}`);
        expect(res.status, `${path} after ${after}: ${JSON.stringify(res.body)}`).toBe(200);
        const page = res.body as { data: Array<{ id: string }>; has_more: boolean };
        for (const item of page.data) {
          seen.push(item.id);
          expect((await remove(item.id)).status).toBe(200);
        }
        after = page.data.at(-1)?.id;
        if (!page.has_more) break;
      }
      expect(seen.sort(), path).toEqual([...all].sort());
    }
  });
});

describe("the vector store files list's status filter", () => {
  it("filters by state, and a cursor whose file has left the filter still pages on", async () => {
    const store = (await acme.post("/v1/vector_stores", { name: "states" })).body.id as string;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const form = new FormData();
      form.append("purpose", "assistants");
      form.append("file", new Blob([`file number ${i}`]), `f${i}.txt`);
      const uploaded = await fetch(`${stack.url}/v1/files`, { method: "POST", headers: { authorization: `Bearer ${TEST_KEYS.acme}` }, body: form });
      const id = ((await uploaded.json()) as { id: string }).id;
      expect((await acme.post(`/v1/vector_stores/${store}/files`, { file_id: id })).status).toBe(200);
      ids.push(id);
    }
    // No workers: set the states by hand. 0, 2, 4 completed; 1 failed; 3 cancelled.
    const setState = (fileId: string, status: string, errorCode: string | null) =>
      stack.deps.db.query(`UPDATE documents SET status = $2, error_code = $3, error_message = $3 WHERE file_id = $1`, [fileId, status, errorCode]);
    await setState(ids[0]!, "ready", null);
    await setState(ids[1]!, "failed", "DOCUMENT_CORRUPT");
    await setState(ids[2]!, "ready", null);
    await setState(ids[3]!, "failed", "CANCELLED");
    await setState(ids[4]!, "ready", null);
    const page = async (query: string) => {
      const res = await acme.get(`/v1/vector_stores/${store}/files?${query}`);
      expect(res.status, `${query}: ${res.text}`).toBe(200);
      return res.body as { data: Array<{ id: string; status: string }>; has_more: boolean };
    };
    const desc = [...ids].reverse();
    expect((await page("filter=completed&order=asc")).data.map((f) => f.id)).toEqual([ids[0], ids[2], ids[4]]);
    expect((await page("filter=failed")).data.map((f) => [f.id, f.status])).toEqual([[ids[1], "failed"]]);
    expect((await page("filter=cancelled")).data.map((f) => [f.id, f.status])).toEqual([[ids[3], "cancelled"]]);
    expect((await page("filter=in_progress")).data).toEqual([]);
    expect((await page("")).data.map((f) => f.id)).toEqual(desc);

    const first = await page("filter=completed&limit=1");
    expect(first.data.map((f) => f.id)).toEqual([ids[4]]);
    expect(first.has_more).toBe(true);
    // The cursor's file fails meanwhile: the next page still starts after it.
    await setState(ids[4]!, "failed", "DOCUMENT_CORRUPT");
    const second = await page(`filter=completed&limit=1&after=${ids[4]}`);
    expect(second.data.map((f) => f.id)).toEqual([ids[2]]);
    expect(second.has_more).toBe(true);
    const third = await page(`filter=completed&limit=1&after=${ids[2]}`);
    expect(third).toMatchObject({ data: [{ id: ids[0] }], has_more: false });
    // And `before` from a file outside the filter.
    expect((await page(`filter=completed&before=${ids[1]}`)).data.map((f) => f.id)).toEqual([ids[2]]);
    // A cursor from another store is refused.
    const other = (await acme.post("/v1/vector_stores", { name: "other" })).body.id as string;
    const refused = await acme.get(`/v1/vector_stores/${other}/files?after=${ids[0]}`);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "invalid_cursor", param: "after", type: "invalid_request_error" });
  });
});
