import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { Field, FixedSizeList, Float32, Int32, Schema, Utf8 } from "apache-arrow";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedVectorStore } from "../../shared/vector-store/embedded.vector-store.ts";
import type { CollectionRef, VectorPoint } from "../../shared/vector-store/vector-store.ts";
import { describeVectorStoreContract } from "./vector-store.contract.ts";

const dir = mkdtempSync(path.join(tmpdir(), "quarry-lance-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeVectorStoreContract("embedded (LanceDB)", async () => new EmbeddedVectorStore(dir));

const DIM = 4;
const tableNames = (ref: CollectionRef) => {
  const id = ref.collectionId.replaceAll("-", "");
  return { points: `points_${id}`, docs: `docs_${id}` };
};

/** What is really on disk: rows of the documents table and ids in the points table. */
async function onDisk(root: string, ref: CollectionRef) {
  const db = await lancedb.connect(root);
  try {
    const names = tableNames(ref);
    const docs = await (await db.openTable(names.docs)).query().select(["document_id"]).toArray();
    const ids = (await (await db.openTable(names.points)).query().select(["id"]).toArray()).map((r) => String(r.id));
    return { docRows: docs.map((r) => String(r.document_id)), pointRows: ids.length, distinctIds: new Set(ids).size };
  } finally {
    db.close();
  }
}

describe("embedded store under concurrent writers", () => {
  const point = (documentId: string, chunkIndex: number, id = randomUUID()): VectorPoint => ({
    id,
    documentId,
    chunkIndex,
    vector: [1, chunkIndex, 0.5, 0.25],
    metadata: { team: "billing" },
  });

  it("leaves one metadata row per document and one point per id, within one store and across two on one directory", { timeout: 60_000 }, async () => {
    const root = mkdtempSync(path.join(tmpdir(), "quarry-lance-race-"));
    // Two instances on one directory: two worker processes, each with its own LanceDB connection.
    const [a, b] = [new EmbeddedVectorStore(root), new EmbeddedVectorStore(root)];
    try {
      const ref = { tenantId: "acme", collectionId: randomUUID() };
      await Promise.all([a.ensureCollection(ref, DIM), b.ensureCollection(ref, DIM)]);
      const doc = randomUUID();
      // Eight batches of one document at once: four distinct batches, and each also retried by a
      // second store while its stalled first copy still runs (same ids, same chunks).
      const batches = Array.from({ length: 4 }, (_, i) => [point(doc, i * 2), point(doc, i * 2 + 1)]);
      await Promise.all(batches.flatMap((batch) => [a.upsert(ref, batch), b.upsert(ref, batch.map((p) => ({ ...p })))]));
      const disk = await onDisk(root, ref);
      expect(disk.docRows).toEqual([doc]);
      expect(disk).toMatchObject({ pointRows: 8, distinctIds: 8 });
      expect(await a.count(ref, doc)).toBe(8);
      expect(await b.search(ref, [1, 0, 0.5, 0.25], { topK: 20, filter: { team: "billing" } })).toHaveLength(8);
    } finally {
      await a.close();
      await b.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("declares the keys on tables made before it did, and repairs the duplicates the old race left", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "quarry-lance-legacy-"));
    const store = new EmbeddedVectorStore(root);
    try {
      const ref = { tenantId: "acme", collectionId: randomUUID() };
      const doc = randomUUID();
      const twice = randomUUID();
      const names = tableNames(ref);
      const legacy = await lancedb.connect(root);
      const points = await legacy.createEmptyTable(
        names.points,
        new Schema([
          new Field("id", new Utf8(), false),
          new Field("vector", new FixedSizeList(DIM, new Field("item", new Float32(), true)), false),
          new Field("tenant_id", new Utf8(), false),
          new Field("document_id", new Utf8(), false),
          new Field("chunk_index", new Int32(), false),
        ]),
      );
      const row = { id: twice, vector: [1, 0, 0, 0], tenant_id: "acme", document_id: doc, chunk_index: 0 };
      await points.add([row, row]);
      const docs = await legacy.createEmptyTable(names.docs, new Schema([new Field("document_id", new Utf8(), false), new Field("tenant_id", new Utf8(), false), new Field("metadata", new Utf8(), false)]));
      await docs.add([0, 1, 2].map(() => ({ document_id: doc, tenant_id: "acme", metadata: "{}" })));
      legacy.close();

      await store.upsert(ref, [point(doc, 1)]);
      const disk = await onDisk(root, ref);
      expect(disk.docRows).toEqual([doc]);
      expect(disk).toMatchObject({ pointRows: 2, distinctIds: 2 });
      const check = await lancedb.connect(root);
      const keyOf = async (name: string) => (await (await check.openTable(name)).schema()).fields.filter((f) => [...f.metadata.keys()].some((k) => k.startsWith("lance-schema:unenforced-primary-key"))).map((f) => f.name);
      expect(await keyOf(names.points)).toEqual(["id"]);
      expect(await keyOf(names.docs)).toEqual(["document_id"]);
      check.close();
    } finally {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("embedded store across processes", () => {
  it("keeps working when another process drops a table it had open, whoever makes it anew", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "quarry-lance-stale-"));
    // Two instances on one directory: two worker processes, or the api (which relays the outbox) and a worker.
    const a = new EmbeddedVectorStore(root);
    const b = new EmbeddedVectorStore(root);
    try {
      const ref = { tenantId: "acme", collectionId: randomUUID(), version: 1 };
      const documentId = randomUUID();
      const point = (chunkIndex: number): VectorPoint => ({ id: randomUUID(), documentId, chunkIndex, vector: [1, 0, 0, chunkIndex], metadata: {} });
      await a.ensureCollection(ref, 4);
      await a.upsert(ref, [point(0)]);
      expect(await a.count(ref)).toBe(1);
      // The other process abandons the generation and a new re-embed makes it again.
      await b.dropCollection(ref);
      await b.ensureCollection(ref, 4);
      await a.upsert(ref, [point(1), point(2)]);
      expect(await a.count(ref)).toBe(2);
      expect(await b.count(ref)).toBe(2);
      expect((await a.search(ref, [1, 0, 0, 2], { topK: 1 }))[0]?.chunkIndex).toBe(2);
      await a.deleteDocument(ref, documentId);
      expect(await b.count(ref)).toBe(0);
      // The other process drops it; this one makes it anew (a new re-embed planned here).
      await b.dropCollection(ref);
      await a.ensureCollection(ref, 4);
      await a.upsert(ref, [point(3)]);
      expect(await b.count(ref)).toBe(1);
    } finally {
      await a.close();
      await b.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
