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
    text: `chunk ${chunkIndex}`,
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
      const point = (chunkIndex: number): VectorPoint => ({ id: randomUUID(), documentId, chunkIndex, vector: [1, 0, 0, chunkIndex], metadata: {}, text: "" });
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

describe("embedded store: keyword index on tables made before it", () => {
  it("adds the text column to an old points table, reports the points without text, and searches them once maintenance fills them in", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "quarry-lance-oldtext-"));
    const store = new EmbeddedVectorStore(root);
    try {
      const ref = { tenantId: "acme", collectionId: randomUUID() };
      const names = tableNames(ref);
      const legacy = await lancedb.connect(root);
      const oldSchema = new Schema([
        new Field("id", new Utf8(), false),
        new Field("vector", new FixedSizeList(DIM, new Field("item", new Float32(), true)), false),
        new Field("tenant_id", new Utf8(), false),
        new Field("document_id", new Utf8(), false),
        new Field("chunk_index", new Int32(), false),
      ]);
      const doc = randomUUID();
      const old = await legacy.createEmptyTable(names.points, oldSchema);
      await old.add([0, 1, 2].map((i) => ({ id: randomUUID(), vector: [1, i, 0, 0], tenant_id: "acme", document_id: doc, chunk_index: i })));
      const docs = await legacy.createEmptyTable(names.docs, new Schema([new Field("document_id", new Utf8(), false), new Field("tenant_id", new Utf8(), false), new Field("metadata", new Utf8(), false)]));
      await docs.add([{ document_id: doc, tenant_id: "acme", metadata: "{}" }]);
      legacy.close();

      // Searchable as before; keyword search finds nothing yet and says why.
      expect(await store.search(ref, [1, 0, 0, 0], { topK: 5 })).toHaveLength(3);
      expect(await store.keywordSearch(ref, "anything", { topK: 5 })).toEqual([]);
      expect(await store.keywordReadiness(ref)).toEqual({ missing: 3 });

      // Maintenance adds the column; a new write carries its text.
      await store.optimize(ref);
      await store.upsert(ref, [{ id: randomUUID(), vector: [0, 1, 0, 0], documentId: doc, chunkIndex: 3, metadata: {}, text: "new pelican chunk" }]);
      expect((await store.keywordSearch(ref, "pelican", { topK: 5 })).map((h) => h.chunkIndex)).toEqual([3]);
      const missing = await store.pointsWithoutText(ref, 2);
      expect(missing).toHaveLength(2);
      const all = [...missing, ...(await store.pointsWithoutText(ref, 10)).filter((p) => !missing.some((m) => m.id === p.id))];
      expect(all.map((p) => p.chunkIndex).sort()).toEqual([0, 1, 2]);
      await store.setTexts(ref, all.map((p) => ({ id: p.id, text: `old pelican number ${p.chunkIndex}` })));
      expect(await store.pointsWithoutText(ref, 10)).toEqual([]);
      expect(await store.keywordReadiness(ref)).toBe("ready");
      expect((await store.keywordSearch(ref, "pelican", { topK: 10 })).map((h) => h.chunkIndex).sort()).toEqual([0, 1, 2, 3]);
      expect(await store.count(ref)).toBe(4);
      expect(await store.search(ref, [1, 0, 0, 0], { topK: 5 })).toHaveLength(4);
    } finally {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("embedded store: ANN index for semantic collections", () => {
  /**
   * Clustered unit vectors of low intrinsic dimension: what semantic embeddings look like, unlike
   * the lexical embedder's (20 cluster centres; within a cluster, variation along a shared
   * 16-dimension subspace, and a little noise in every dimension).
   */
  function clustered(n: number, dim: number, seed: number): number[][] {
    let s = 7;
    const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
    const centers = Array.from({ length: 20 }, () => Array.from({ length: dim }, gauss));
    const basis = Array.from({ length: 16 }, () => Array.from({ length: dim }, gauss));
    s = seed;
    return Array.from({ length: n }, (_, i) => {
      const z = basis.map(() => gauss());
      const v = centers[i % centers.length]!.map((x, d) => x + basis.reduce((sum, b, k) => sum + b[d]! * z[k]!, 0) * 0.8 + gauss() * 0.1);
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });
  }
  const cosineTop = (vectors: number[][], q: number[], k: number) =>
    vectors
      .map((v, i) => ({ i, s: v.reduce((sum, x, j) => sum + x * q[j]!, 0) }))
      .sort((a, b) => b.s - a.s)
      .slice(0, k)
      .map((h) => h.i);

  it("builds one past the threshold for semantic vectors only, keeps recall@10 at 0.95 or more with exact scores, and trains it again when the table doubles", { timeout: 120_000 }, async () => {
    const root = mkdtempSync(path.join(tmpdir(), "quarry-lance-ann-"));
    const store = new EmbeddedVectorStore(root, { annMinPoints: 3000 });
    const vectorIndex = async (ref: CollectionRef) => {
      const db = await lancedb.connect(root);
      try {
        return (await (await db.openTable(tableNames(ref).points)).listIndices()).filter((i) => i.columns.includes("vector")).map((i) => i.name);
      } finally {
        db.close();
      }
    };
    try {
      const dim = 256; // real embeddings have hundreds of dimensions; 1-bit codes need them
      const vectors = clustered(6500, dim, 7);
      const doc = randomUUID();
      const points = vectors.map((vector, i) => ({ id: randomUUID(), vector, documentId: doc, chunkIndex: i, metadata: {}, text: "" }));
      const semantic = { tenantId: "acme", collectionId: randomUUID() };
      const lexical = { tenantId: "acme", collectionId: randomUUID() };
      for (const ref of [semantic, lexical]) {
        await store.ensureCollection(ref, dim);
        await store.upsert(ref, points.slice(0, 2000));
      }
      await store.optimize(semantic, { semantic: true });
      expect(await vectorIndex(semantic)).toEqual([]); // below the threshold
      for (const ref of [semantic, lexical]) await store.upsert(ref, points.slice(2000, 3200));
      await store.optimize(semantic, { semantic: true });
      await store.optimize(lexical, { semantic: false });
      expect(await vectorIndex(semantic)).toEqual(["vector_ann_3200"]);
      expect(await vectorIndex(lexical)).toEqual([]);

      const queries = clustered(40, dim, 99);
      let found = 0;
      for (const q of queries) {
        const hits = await store.search(semantic, q, { topK: 10 });
        const truth = new Set(cosineTop(vectors.slice(0, 3200), q, 10));
        found += hits.filter((h) => truth.has(h.chunkIndex)).length;
        for (const h of hits) expect(h.score).toBeCloseTo(vectors[h.chunkIndex]!.reduce((s, x, j) => s + x * q[j]!, 0), 4);
      }
      expect(found / (queries.length * 10)).toBeGreaterThanOrEqual(0.95);

      // Rows written after training are found too (unindexed rows are searched exactly), and the index is trained again once the table has doubled.
      await store.upsert(semantic, points.slice(3200, 4000));
      const late = await store.search(semantic, vectors[3500]!, { topK: 1 });
      expect(late[0]!.chunkIndex).toBe(3500);
      await store.optimize(semantic, { semantic: true });
      expect(await vectorIndex(semantic)).toEqual(["vector_ann_3200"]);
      await store.upsert(semantic, points.slice(4000));
      await store.optimize(semantic, { semantic: true });
      expect(await vectorIndex(semantic)).toEqual(["vector_ann_6500"]);
      expect((await store.search(semantic, vectors[6000]!, { topK: 1 }))[0]!.chunkIndex).toBe(6000);
    } finally {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
