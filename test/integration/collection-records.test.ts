import { randomBytes, randomUUID } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import v8 from "node:v8";
import vm from "node:vm";
import { gunzipSync, gzipSync } from "node:zlib";
import type pg from "pg";
import { v5 as uuidv5 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteCollectionRecords, exportCollectionRecords, importCollectionRecords } from "../../shared/backup/collection-records.ts";
import type { Db } from "../../shared/db/pool.ts";
import { withTransaction } from "../../shared/db/transaction.ts";
import { startTestStack, type TestStack } from "../helpers/app.ts";
import { apiClient, type ApiClient } from "../helpers/http.ts";
import { TEST_KEYS, waitFor } from "../helpers/test-env.ts";

let stack: TestStack;
let client: ApiClient;
let db: Db;

beforeAll(async () => {
  stack = await startTestStack({ workers: true });
  client = apiClient(stack.url, TEST_KEYS.acme);
  db = stack.deps.db;
});
afterAll(async () => {
  await stack?.stop();
});

async function createCollection(name: string): Promise<string> {
  const res = await client.post("/v1/collections", { name });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function ingest(collectionId: string, body: { text: string; title?: string; metadata?: Record<string, unknown> }): Promise<string> {
  const res = await client.post(`/v1/collections/${collectionId}/documents`, body);
  expect(res.status).toBe(202);
  await waitFor(async () => (await client.get(`/v1/documents/${res.body.document.id}`)).body.status === "ready", 15_000, "a ready document");
  return res.body.document.id;
}

/** A document written the way a worker leaves it, without one. */
async function insertDocument(
  q: Pick<pg.ClientBase, "query">,
  collectionId: string,
  doc: { id?: string; status: string; chunks: Array<{ text: string; page?: number; heading?: string }>; title?: string; source?: boolean },
): Promise<string> {
  const id = doc.id ?? randomUUID();
  await q.query(
    `INSERT INTO documents (id, tenant_id, collection_id, title, status, mime_type, size_bytes, sha256, page_count, chunk_count, metadata)
     VALUES ($1, 'acme', $2, $3, $4, 'application/pdf', 1234, $5, 3, $6, '{"kind": "manual", "n": 1.5, "tags": ["a", "b"]}')`,
    [id, collectionId, doc.title ?? null, doc.status, randomBytes(32).toString("hex"), doc.chunks.length],
  );
  if (doc.source) await q.query(`INSERT INTO document_sources (document_id, content) VALUES ($1, '\\x00ff')`, [id]);
  await q.query(
    `INSERT INTO chunks (document_id, chunk_index, tenant_id, collection_id, text, token_count, page, heading)
     SELECT $1, t.i - 1, 'acme', $2, t.text, 7, t.page, t.heading FROM unnest($3::text[], $4::int[], $5::text[]) WITH ORDINALITY AS t(text, page, heading, i)`,
    [id, collectionId, doc.chunks.map((c) => c.text), doc.chunks.map((c) => c.page ?? null), doc.chunks.map((c) => c.heading ?? null)],
  );
  return id;
}

/** Every column of the collection's rows (timestamps to the microsecond), ready documents only. */
async function records(collectionId: string) {
  const all = async (sql: string) => (await db.query(sql, [collectionId])).rows.map((r) => r.j);
  return {
    collection: await all(`SELECT to_jsonb(c) AS j FROM collections c WHERE id = $1`),
    documents: await all(`SELECT to_jsonb(d) AS j FROM documents d WHERE collection_id = $1 AND status = 'ready' ORDER BY id`),
    chunks: await all(
      `SELECT to_jsonb(ch) AS j FROM chunks ch JOIN documents d ON d.id = ch.document_id WHERE d.collection_id = $1 AND d.status = 'ready' ORDER BY ch.document_id, ch.chunk_index`,
    ),
  };
}

/** A digest of every row of every table a restore writes. */
async function fingerprint(): Promise<string> {
  const parts = [];
  for (const table of ["collections", "documents", "document_sources", "chunks"]) {
    const { rows } = await db.query(`SELECT md5(coalesce(string_agg(md5(to_jsonb(t)::text), '' ORDER BY md5(to_jsonb(t)::text)), '')) AS h FROM ${table} t`);
    parts.push(`${table}:${rows[0].h}`);
  }
  return parts.join(" ");
}

async function exportToBuffer(collectionId: string) {
  const parts: Buffer[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => void (parts.push(chunk), cb()) });
  const result = await exportCollectionRecords(db, collectionId, sink);
  return { result, gz: Buffer.concat(parts) };
}

const lines = (gz: Buffer) => gunzipSync(gz).toString("utf8").split("\n").slice(0, -1).map((l) => JSON.parse(l));

/** A sink that keeps its first write's callback until released: the export behind it stalls on backpressure. */
function stallingSink() {
  const parts: Buffer[] = [];
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const firstWrite = new Promise<void>((r) => (started = r));
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      started();
      void released.then(() => cb());
    },
  });
  return { sink, firstWrite, release, body: () => Buffer.concat(parts) };
}

let mainId: string;
let otherId: string;
let backup: Buffer;

describe("exporting and importing a collection's records", () => {
  it("round-trips in place: export → delete → import gives identical rows, and only ready documents", async () => {
    mainId = await createCollection("records-main");
    otherId = await createCollection("records-other");
    const long = Array.from({ length: 400 }, (_, i) => `Sentence ${i} about deterministic backups and exact restores.`).join(" ");
    await ingest(mainId, { text: long, title: "Long", metadata: { lang: "en", year: 2024, nested: { ok: true } } });
    await ingest(mainId, { text: "A short note on snapshots.", title: "Short" });
    await ingest(mainId, { text: "Untitled, with metadata only.", metadata: { tags: ["x"] } });
    await insertDocument(db, mainId, {
      status: "ready",
      title: "Manual",
      chunks: [{ text: "Page one.", page: 1, heading: "Intro" }, { text: "Page two, unicode ✓ \u00e9 \"quoted\"\nnewline", page: 2 }, { text: "Page three.", page: 3, heading: "End" }],
    });
    await insertDocument(db, mainId, { status: "queued", chunks: [], source: true });
    await insertDocument(db, mainId, { status: "failed", chunks: [{ text: "left over" }] });
    await ingest(otherId, { text: "Another collection's only document." });

    const before = await records(mainId);
    const other = await records(otherId);
    expect(before.documents).toHaveLength(4);
    expect(before.chunks.length).toBeGreaterThan(5);

    const missing = new Writable({ write: (_c, _e, cb) => cb() });
    await expect(exportCollectionRecords(db, randomUUID(), missing)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(missing.destroyed && !missing.writableFinished).toBe(true);

    const { result, gz } = await exportToBuffer(mainId);
    backup = gz;
    expect(result).toMatchObject({ documents: 4, chunks: before.chunks.length, collection: { id: mainId, tenantId: "acme", name: "records-main" } });
    expect(result.snapshot).toMatch(/^\d+:\d+:/);
    const parsed = lines(gz);
    expect(parsed[0]).toMatchObject({ type: "header", format: "quarry.collection-records", version: 1, snapshot: result.snapshot });
    expect(parsed[1]).toMatchObject({ type: "collection", id: mainId, name: "records-main" });
    expect(parsed.at(-1)).toEqual({ type: "end", documents: 4, chunks: before.chunks.length });
    expect(parsed.filter((l) => l.type === "document").map((l) => l.id)).toEqual(before.documents.map((d) => d.id));

    const outcome = await withTransaction(db, async (tx) => {
      const deleted = await deleteCollectionRecords(tx, mainId);
      const imported = await importCollectionRecords(tx, Readable.from([gz]));
      return { deleted, imported };
    });
    expect(outcome.deleted).toEqual({ collection: true, documents: 6, chunks: before.chunks.length + 1 });
    expect(outcome.imported).toMatchObject({ collectionId: mainId, tenantId: "acme", name: "records-main", documents: 4, chunks: before.chunks.length });
    expect([...outcome.imported.documentIds].every(([from, to]) => from === to)).toBe(true);

    expect(await records(mainId)).toEqual(before);
    expect(await records(otherId)).toEqual(other);
    // Not-ready documents and their uploaded bytes are not part of a backup.
    expect((await db.query(`SELECT status FROM documents WHERE collection_id = $1 AND status <> 'ready'`, [mainId])).rows).toEqual([]);
    // Same ids, so the live vectors still answer with the restored chunks.
    const search = await client.post(`/v1/collections/${mainId}/search`, { query: "snapshots", top_k: 3 });
    expect(search.status).toBe(200);
    expect(search.body.data.length).toBeGreaterThan(0);
  });

  it("imports beside the live collection under new ids, returns the mapping, and refuses a taken name", async () => {
    const before = await records(mainId);
    const newId = randomUUID();
    const imported = await withTransaction(db, (tx) => importCollectionRecords(tx, Readable.from([backup]), { asCollectionId: newId, newName: "records-main (restored)" }));
    expect(imported).toMatchObject({ collectionId: newId, name: "records-main (restored)", documents: 4, chunks: before.chunks.length });
    const expectedIds = new Map(before.documents.map((d) => [d.id, uuidv5(d.id, newId)]));
    expect(imported.documentIds).toEqual(expectedIds);

    const copy = await records(newId);
    const map = (id: string) => expectedIds.get(id)!;
    const byKey = (a: { id?: string; document_id?: string; chunk_index?: number }, b: typeof a) =>
      (a.id ?? a.document_id!).localeCompare(b.id ?? b.document_id!) || (a.chunk_index ?? 0) - (b.chunk_index ?? 0);
    expect(copy.documents).toEqual(before.documents.map((d) => ({ ...d, id: map(d.id), collection_id: newId })).sort(byKey));
    expect(copy.chunks).toEqual(before.chunks.map((c) => ({ ...c, document_id: map(c.document_id), collection_id: newId })).sort(byKey));
    const { created_at: _c, updated_at: _u, ...same } = before.collection[0];
    expect(copy.collection[0]).toMatchObject({ ...same, id: newId, name: "records-main (restored)" });
    expect(await records(mainId)).toEqual(before);

    // Names are unique per tenant: another tenant may take the backup's name.
    const elsewhere = await withTransaction(db, (tx) => importCollectionRecords(tx, Readable.from([backup]), { asCollectionId: randomUUID(), tenantId: "globex" }));
    expect(elsewhere).toMatchObject({ tenantId: "globex", name: "records-main", documents: 4 });
    const tenants = await db.query(`SELECT DISTINCT tenant_id FROM chunks WHERE collection_id = $1 UNION SELECT tenant_id FROM documents WHERE collection_id = $1`, [elsewhere.collectionId]);
    expect(tenants.rows).toEqual([{ tenant_id: "globex" }]);

    const state = await fingerprint();
    for (const newName of [undefined, "records-main (restored)"]) {
      const attempt = withTransaction(db, (tx) => importCollectionRecords(tx, Readable.from([backup]), { asCollectionId: randomUUID(), newName }));
      await expect(attempt).rejects.toMatchObject({ code: "COLLECTION_EXISTS", httpStatus: 409 });
    }
    // In place while the collection is still there.
    await expect(withTransaction(db, (tx) => importCollectionRecords(tx, Readable.from([backup])))).rejects.toMatchObject({ code: "RESTORE_TARGET_EXISTS" });
    expect(await fingerprint()).toBe(state);
  });

  it("refuses a truncated or corrupted stream and leaves the database exactly as it was", async () => {
    const text = gunzipSync(backup).toString("utf8");
    const all = text.split("\n");
    const chunkAt = all.findIndex((l) => l.startsWith('{"type":"chunk"'));
    const edit = (i: number, l: string | null) => gzipSync(all.flatMap((x, j) => (j === i ? (l === null ? [] : [l]) : [x])).join("\n"));
    const cases: Array<[string, Buffer, RegExp]> = [
      ["gzip cut in the middle", backup.subarray(0, Math.floor(backup.length / 2)), /not a complete gzip stream/],
      ["gzip without its trailer", backup.subarray(0, backup.length - 4), /not a complete gzip stream/],
      ["bytes that are not gzip", Buffer.from(text.slice(0, 200)), /not a complete gzip stream/],
      ["a line that is not JSON", edit(chunkAt, '{"type":"chunk","chunk_index":'), new RegExp(`line ${chunkAt + 1} is not JSON`)],
      ["a field of the wrong type", edit(chunkAt, all[chunkAt]!.replace(/"token_count":\d+/, '"token_count":"many"')), new RegExp(`line ${chunkAt + 1}: token_count`)],
      ["a missing chunk line", edit(chunkAt, null), /has \d+ of its \d+ chunks|counts/],
      ["no end line (cut at a line break)", gzipSync(all.slice(0, -2).join("\n") + "\n"), /without its end line/],
      ["a last line without its line break", gzipSync(text.slice(0, -1)), /cut off/],
    ];
    const state = await fingerprint();
    for (const [what, input, message] of cases) {
      const attempt = withTransaction(db, async (tx) => {
        await deleteCollectionRecords(tx, mainId);
        await importCollectionRecords(tx, Readable.from([input]));
      });
      await expect(attempt, what).rejects.toMatchObject({ code: "BACKUP_INVALID", message: expect.stringMatching(message) });
    }
    expect(await fingerprint()).toBe(state);
  });

  it("reads one instant: a document committed by a concurrent transaction is in the export whole, or not at all", async () => {
    const id = await createCollection("records-concurrent");
    const hex = () => randomBytes(400).toString("hex");
    const first = "00000000-0000-4000-8000-000000000001";
    const late = "ffffffff-ffff-4fff-8fff-000000000002";
    const finishing = "ffffffff-ffff-4fff-8fff-000000000003";
    // Enough incompressible text that the export stalls on backpressure inside the first document.
    await insertDocument(db, id, { id: first, status: "ready", chunks: Array.from({ length: 3000 }, () => ({ text: hex() })) });
    await insertDocument(db, id, { id: finishing, status: "processing", chunks: [{ text: "done" }, { text: "soon" }] });

    const writer = await db.connect();
    try {
      await writer.query("BEGIN");
      const { rows } = await writer.query(`SELECT pg_current_xact_id()::text AS xid`);
      await insertDocument(writer, id, { id: late, status: "ready", chunks: [{ text: "late 0" }, { text: "late 1" }] });

      const stalled = stallingSink();
      const exporting = exportCollectionRecords(db, id, stalled.sink);
      await stalled.firstWrite;
      // The export has its snapshot and is part-way through; the writer finishes and commits.
      await writer.query(`INSERT INTO chunks (document_id, chunk_index, tenant_id, collection_id, text, token_count) VALUES ($1, 2, 'acme', $2, 'late 2', 1)`, [late, id]);
      await writer.query(`UPDATE documents SET chunk_count = 3 WHERE id = $1`, [late]);
      await writer.query(`UPDATE documents SET status = 'ready' WHERE id = $1`, [finishing]);
      await writer.query("COMMIT");
      stalled.release();
      const during = await exporting;

      expect(during).toMatchObject({ documents: 1, chunks: 3000 });
      const duringLines = lines(stalled.body());
      expect(duringLines.filter((l) => l.type === "document").map((l) => l.id)).toEqual([first]);
      expect(duringLines.filter((l) => l.type === "chunk")).toHaveLength(3000);
      const visible = `SELECT pg_visible_in_snapshot($1::xid8, $2::pg_snapshot) AS v`;
      expect((await db.query(visible, [rows[0].xid, during.snapshot])).rows[0].v).toBe(false);

      const { result: after, gz } = await exportToBuffer(id);
      expect(after).toMatchObject({ documents: 3, chunks: 3005 });
      expect((await db.query(visible, [rows[0].xid, after.snapshot])).rows[0].v).toBe(true);
      const afterLines = lines(gz);
      const docAt = afterLines.findIndex((l) => l.id === late);
      expect(afterLines[docAt]).toMatchObject({ chunk_count: 3, chunks: 3 });
      expect(afterLines.slice(docAt + 1, docAt + 4).map((l) => l.text)).toEqual(["late 0", "late 1", "late 2"]);
      expect(afterLines.filter((l) => l.type === "document").map((l) => l.id)).toEqual([first, late, finishing]);
    } finally {
      await writer.query("ROLLBACK").catch(() => undefined);
      writer.release();
    }
  });

  it("streams a 20k-chunk collection both ways without holding it in memory", { timeout: 60_000 }, async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const id = await createCollection("records-big");
    const doc = randomUUID();
    await db.query(
      `INSERT INTO documents (id, tenant_id, collection_id, status, mime_type, size_bytes, sha256, chunk_count) VALUES ($1, 'acme', $2, 'ready', 'text/plain', 1, $3, 20000)`,
      [doc, id, randomBytes(32).toString("hex")],
    );
    // ~2 KB a chunk: 40 MB of text in all.
    await db.query(
      `INSERT INTO chunks (document_id, chunk_index, tenant_id, collection_id, text, token_count)
       SELECT $1, g, 'acme', $2, repeat(md5(g::text), 62), 500 FROM generate_series(0, 19999) g`,
      [doc, id],
    );
    const MB = 1024 * 1024;

    const base = heap();
    const stalled = stallingSink();
    const exporting = exportCollectionRecords(db, id, stalled.sink);
    await stalled.firstWrite;
    await sleep(300);
    const exportGrowth = heap() - base;
    stalled.release();
    expect(await exporting).toMatchObject({ documents: 1, chunks: 20000 });
    const gz = stalled.body();

    const pieces = Array.from({ length: Math.ceil(gz.length / 16384) }, (_, i) => gz.subarray(i * 16384, (i + 1) * 16384));
    const half = Math.floor(pieces.length / 2);
    let next = 0;
    let open = false;
    const input = new Readable({
      read() {
        if (next === half && !open) return;
        this.push(next < pieces.length ? pieces[next++] : null);
      },
    });
    const importBase = heap();
    const newId = randomUUID();
    const importing = withTransaction(db, (tx) => importCollectionRecords(tx, input, { asCollectionId: newId, newName: "records-big (restored)" }));
    await waitFor(async () => next === half, 10_000, "half of the input read");
    await sleep(300);
    const importGrowth = heap() - importBase;
    open = true;
    input.push(pieces[next++]);
    expect(await importing).toMatchObject({ documents: 1, chunks: 20000 });

    const sums = async (c: string) =>
      (await db.query(`SELECT count(*)::int AS n, sum(length(text))::int AS chars, md5(string_agg(text, '' ORDER BY chunk_index)) AS h FROM chunks WHERE collection_id = $1`, [c])).rows[0];
    expect(await sums(newId)).toEqual(await sums(id));
    // Holding everything would take at least the 40 MB of text; a page at a time takes a few.
    expect(exportGrowth, `export heap growth ${(exportGrowth / MB).toFixed(1)} MB`).toBeLessThan(12 * MB);
    expect(importGrowth, `import heap growth ${(importGrowth / MB).toFixed(1)} MB`).toBeLessThan(12 * MB);
  });
});
