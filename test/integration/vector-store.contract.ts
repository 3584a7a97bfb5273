import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pointId } from "../../shared/use-cases/point-id.ts";
import type { CollectionRef, VectorPoint, VectorStore } from "../../shared/vector-store/vector-store.ts";

const DIM = 8;

function unit(values: number[]): number[] {
  const v = Array.from({ length: DIM }, (_, i) => values[i] ?? 0);
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
}

function point(documentId: string, chunkIndex: number, vector: number[], metadata: Record<string, unknown> = {}, text = `chunk ${chunkIndex} of ${documentId}`): VectorPoint {
  return { id: randomUUID(), documentId, chunkIndex, vector: unit(vector), metadata, text };
}

/**
 * The behaviour every vector store adapter must have. Each adapter's test file calls this with a
 * factory; the Qdrant run is enabled when QDRANT_URL is set.
 */
export function describeVectorStoreContract(name: string, create: () => Promise<VectorStore>, options: { skip?: string } = {}) {
  describe.skipIf(Boolean(options.skip))(`vector store contract: ${name}${options.skip ? ` (skipped: ${options.skip})` : ""}`, () => {
    let store: VectorStore;
    const tenant = `tenant-${randomUUID().slice(0, 8)}`;
    const ref = (): CollectionRef => ({ tenantId: tenant, collectionId: randomUUID() });

    beforeAll(async () => {
      store = await create();
    });
    afterAll(async () => {
      await store?.close();
    });

    it("creates collections idempotently and drops them, missing ones included", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      await store.ensureCollection(c, DIM);
      expect(await store.count(c)).toBe(0);
      await store.dropCollection(c);
      await store.dropCollection(c);
      expect(await store.count(c)).toBe(0);
      expect(await store.search(c, unit([1]), { topK: 3 })).toEqual([]);
    });

    it("upserting the same ids twice overwrites instead of duplicating", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      const doc = randomUUID();
      const points = [point(doc, 0, [1, 0]), point(doc, 1, [0, 1])];
      await store.upsert(c, points);
      await store.upsert(c, points.map((p) => ({ ...p, vector: unit([1, 1]) })));
      expect(await store.count(c)).toBe(2);
      const [hit] = await store.search(c, unit([1, 1]), { topK: 1 });
      expect(hit!.score).toBeCloseTo(1, 4);
    });

    it("concurrent upserts of one document, a batch racing a copy of itself included, keep one point per id", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      const doc = randomUUID();
      const batches = Array.from({ length: 3 }, (_, i) => [point(doc, i * 2, [1, i]), point(doc, i * 2 + 1, [i, 1])].map((p) => ({ ...p, metadata: { k: "v" } })));
      await Promise.all(batches.flatMap((batch) => [store.upsert(c, batch), store.upsert(c, batch)]));
      expect(await store.count(c)).toBe(6);
      const ids: string[] = [];
      for await (const batch of store.scan(c)) ids.push(...batch.map((p) => p.id));
      expect(ids.sort()).toEqual(batches.flat().map((p) => p.id).sort());
      const hits = await store.search(c, unit([1, 1]), { topK: 20, filter: { k: "v" } });
      expect(new Set(hits.map((h) => h.id)).size).toBe(6);
      expect(hits).toHaveLength(6);
    });

    it("returns the nearest points first with cosine scores", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      const doc = randomUUID();
      await store.upsert(c, [point(doc, 0, [1, 0, 0]), point(doc, 1, [1, 1, 0]), point(doc, 2, [0, 0, 1])]);
      const hits = await store.search(c, unit([1, 0, 0]), { topK: 3 });
      expect(hits.map((h) => h.chunkIndex)).toEqual([0, 1, 2]);
      expect(hits[0]!.score).toBeCloseTo(1, 4);
      expect(hits[1]!.score).toBeCloseTo(Math.SQRT1_2, 4);
      expect(hits[2]!.score).toBeCloseTo(0, 4);
      expect(hits[0]!.documentId).toBe(doc);
      expect(await store.search(c, unit([1, 0, 0]), { topK: 2 })).toHaveLength(2);
      const above = await store.search(c, unit([1, 0, 0]), { topK: 3, scoreThreshold: 0.5 });
      expect(above.map((h) => h.chunkIndex)).toEqual([0, 1]);
    });

    it("applies every filter operator with the same semantics", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      const docs = {
        a: { id: randomUUID(), meta: { user_id: "42", tag: ["x", "y"], year: 2019 } },
        b: { id: randomUUID(), meta: { user_id: "7", tag: ["y"], year: 2021 } },
        c: { id: randomUUID(), meta: { user_id: "42", tag: ["z"], year: 2024 } },
      };
      await store.upsert(c, Object.values(docs).map((d, i) => point(d.id, 0, [1, i * 0.1], d.meta)));
      const ids = async (filter: Record<string, unknown>) =>
        (await store.search(c, unit([1]), { topK: 10, filter: filter as never })).map((h) => h.documentId).sort();
      const sorted = (...list: string[]) => list.sort();
      expect(await ids({ user_id: "42" })).toEqual(sorted(docs.a.id, docs.c.id));
      expect(await ids({ tag: "y" })).toEqual(sorted(docs.a.id, docs.b.id));
      expect(await ids({ tag: { $in: ["z", "x"] } })).toEqual(sorted(docs.a.id, docs.c.id));
      expect(await ids({ year: { $gte: 2021 } })).toEqual(sorted(docs.b.id, docs.c.id));
      expect(await ids({ year: { $gt: 2021 } })).toEqual([docs.c.id]);
      expect(await ids({ year: { $lt: 2021 } })).toEqual([docs.a.id]);
      expect(await ids({ year: { $lte: 2021, $gte: 2020 } })).toEqual([docs.b.id]);
      expect(await ids({ user_id: "42", year: { $lt: 2020 } })).toEqual([docs.a.id]);
      expect(await ids({ user_id: "nobody" })).toEqual([]);
      // All operators on one key must hold for the same array element.
      const arr = { id: randomUUID(), meta: { k: [1, 3] } };
      await store.upsert(c, [point(arr.id, 0, [1, 0.5], arr.meta)]);
      expect(await ids({ k: { $eq: 1, $gt: 2 } })).toEqual([]);
      expect(await ids({ k: { $in: [1, 3], $gt: 2 } })).toEqual([arr.id]);
      expect(await ids({ k: 3 })).toEqual([arr.id]);
    });

    it("keeps collections and tenants apart", async () => {
      const one = ref();
      const two = ref();
      const otherTenant: CollectionRef = { tenantId: `${tenant}-other`, collectionId: one.collectionId };
      await store.ensureCollection(one, DIM);
      await store.ensureCollection(two, DIM);
      await store.upsert(one, [point(randomUUID(), 0, [1])]);
      expect(await store.count(one)).toBe(1);
      expect(await store.count(two)).toBe(0);
      expect(await store.search(two, unit([1]), { topK: 5 })).toEqual([]);
      expect(await store.search(otherTenant, unit([1]), { topK: 5 })).toEqual([]);
      expect(await store.count(otherTenant)).toBe(0);
    });

    it("deletes every point of one document and counts per document", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      const keep = randomUUID();
      const drop = randomUUID();
      await store.upsert(c, [point(keep, 0, [1]), point(drop, 0, [1, 1]), point(drop, 1, [0, 1])]);
      expect(await store.count(c, drop)).toBe(2);
      await store.deleteDocument(c, drop);
      expect(await store.count(c, drop)).toBe(0);
      expect(await store.count(c)).toBe(1);
      const hits = await store.search(c, unit([0, 1]), { topK: 5 });
      expect(hits.map((h) => h.documentId)).toEqual([keep]);
      expect(await store.search(c, unit([1]), { topK: 5, filter: { any: "thing" } })).toEqual([]);
    });

    it("restricts vector and keyword search to a set of documents, together with the metadata filter", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      const [a, b, d] = [randomUUID(), randomUUID(), randomUUID()];
      await store.upsert(c, [point(a, 0, [1], { tag: "x" }, "quince jam"), point(b, 0, [1, 0.1], { tag: "y" }, "quince jelly"), point(d, 0, [1, 0.2], { tag: "x" }, "quince paste")]);
      const ids = async (opts: { filter?: Record<string, string>; documentIds?: string[] }) => ({
        vector: (await store.search(c, unit([1]), { topK: 10, ...opts })).map((h) => h.documentId).sort(),
        keyword: (await store.keywordSearch(c, "quince", { topK: 10, ...opts })).map((h) => h.documentId).sort(),
      });
      expect(await ids({ documentIds: [a, b] })).toEqual({ vector: [a, b].sort(), keyword: [a, b].sort() });
      expect(await ids({ documentIds: [a, b], filter: { tag: "x" } })).toEqual({ vector: [a], keyword: [a] });
      expect(await ids({ documentIds: [] })).toEqual({ vector: [], keyword: [] });
      expect(await ids({ documentIds: [randomUUID()] })).toEqual({ vector: [], keyword: [] });
    });

    it("replaces a document's metadata on all its points, which filters then see", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      const [a, b] = [randomUUID(), randomUUID()];
      await store.upsert(c, [point(a, 0, [1], { tag: "old", keep: "1" }), point(a, 1, [1, 0.1], { tag: "old", keep: "1" }), point(b, 0, [1], { tag: "old" })]);
      await store.setDocumentMetadata(c, a, { tag: "new" });
      const tagged = async (filter: Record<string, string>) => (await store.search(c, unit([1]), { topK: 10, filter })).map((h) => `${h.documentId}:${h.chunkIndex}`).sort();
      expect(await tagged({ tag: "new" })).toEqual([`${a}:0`, `${a}:1`].sort());
      expect(await tagged({ tag: "old" })).toEqual([`${b}:0`]);
      expect(await tagged({ keep: "1" })).toEqual([]);
      await store.setDocumentMetadata(c, randomUUID(), { tag: "none" }); // no points: not an error
      await store.setDocumentMetadata(ref(), a, { tag: "none" }); // no collection: not an error
    });

    it("keeps vector generations apart and drops one or all of them", async () => {
      const base = { ...ref(), version: 0 };
      const next = { ...base, version: 1 };
      await store.ensureCollection(base, DIM);
      await store.ensureCollection(next, DIM);
      await store.upsert(base, [point(randomUUID(), 0, [1])]);
      await store.upsert(next, [point(randomUUID(), 0, [0, 1]), point(randomUUID(), 1, [0, 1])]);
      expect(await store.count(base)).toBe(1);
      expect(await store.count(next)).toBe(2);
      await store.dropCollection(base);
      expect(await store.count(base)).toBe(0);
      expect(await store.count(next)).toBe(2);
      await store.dropCollection({ tenantId: base.tenantId, collectionId: base.collectionId });
      expect(await store.count(next)).toBe(0);
    });

    it("restores a snapshot so that search answers exactly as it did when it was taken", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      const a = randomUUID();
      const b = randomUUID();
      await store.upsert(c, [point(a, 0, [1, 0.2], { tag: "keep" }), point(a, 1, [0.3, 1], { tag: "keep" }), point(b, 0, [1, 1], { tag: "other" })]);
      const query = unit([1, 0.5]);
      const before = await store.search(c, query, { topK: 10 });
      const filteredBefore = await store.search(c, query, { topK: 10, filter: { tag: "keep" } });
      const dir = mkdtempSync(path.join(tmpdir(), "quarry-snapshot-"));
      try {
        expect(await store.snapshot(c, dir)).toEqual({ points: 3, documents: new Map([[a, 2], [b, 1]]) });
        await store.deleteDocument(c, a);
        await store.upsert(c, [point(randomUUID(), 0, [1, 0.5], { tag: "keep" })]);
        expect(await store.search(c, query, { topK: 10 })).not.toEqual(before);
        await store.restore(c, dir);
        expect(await store.search(c, query, { topK: 10 })).toEqual(before);
        expect(await store.search(c, query, { topK: 10, filter: { tag: "keep" } })).toEqual(filteredBefore);
        expect(await store.count(c)).toBe(3);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("restores a snapshot of one collection into another collection's generation, replacing what it held", async () => {
      const source = ref();
      const target: CollectionRef = { ...ref(), version: 2 };
      await store.ensureCollection(source, DIM);
      await store.ensureCollection(target, DIM);
      const a = randomUUID();
      const b = randomUUID();
      await store.upsert(source, [point(a, 0, [1, 0.2], { tag: "keep" }), point(a, 1, [0.3, 1], { tag: "keep" }), point(b, 0, [1, 1], { tag: "other" })]);
      await store.upsert(target, [point(randomUUID(), 0, [1, 0.5])]);
      const query = unit([1, 0.5]);
      const before = await store.search(source, query, { topK: 10 });
      const dir = mkdtempSync(path.join(tmpdir(), "quarry-snapshot-"));
      try {
        await store.snapshot(source, dir);
        await store.restore(target, dir);
        expect(await store.search(target, query, { topK: 10 })).toEqual(before);
        expect(await store.search(target, query, { topK: 10, filter: { tag: "keep" } })).toEqual(await store.search(source, query, { topK: 10, filter: { tag: "keep" } }));
        expect(await store.documentCounts(target)).toEqual(new Map([[a, 2], [b, 1]]));
        // The source is untouched.
        expect(await store.count(source)).toBe(3);
        expect(await store.search(source, query, { topK: 10 })).toEqual(before);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("snapshots the documents asked for and restores them under new document and point ids", async () => {
      const source = ref();
      await store.ensureCollection(source, DIM);
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await store.upsert(source, [
        point(a, 0, [1, 0.1], { tag: "a" }),
        point(a, 1, [1, 0.3], { tag: "a" }),
        point(b, 0, [1, 0.5], { tag: "b" }),
        point(c, 0, [0.2, 1], { tag: "c" }),
      ]);
      const dir = mkdtempSync(path.join(tmpdir(), "quarry-snapshot-"));
      try {
        const taken = await store.snapshot(source, dir, { documents: new Set([a, c]) });
        expect(taken).toEqual({ points: 3, documents: new Map([[a, 2], [c, 1]]) });
        const target = ref();
        const renamed = new Map([
          [a, randomUUID()],
          [c, randomUUID()],
        ]);
        await store.restore(target, dir, { documentIds: renamed });
        const newA = renamed.get(a)!;
        const newC = renamed.get(c)!;
        expect(await store.documentCounts(target)).toEqual(new Map([[newA, 2], [newC, 1]]));
        expect(await store.count(target)).toBe(3);
        const hits = await store.search(target, unit([1, 0.1]), { topK: 10 });
        expect(hits.map((h) => [h.id, h.documentId, h.chunkIndex])).toEqual([
          [pointId(newA, 0), newA, 0],
          [pointId(newA, 1), newA, 1],
          [pointId(newC, 0), newC, 0],
        ]);
        // Metadata travels with the renamed documents.
        expect((await store.search(target, unit([1]), { topK: 10, filter: { tag: "c" } })).map((h) => h.documentId)).toEqual([newC]);
        expect(await store.search(target, unit([1]), { topK: 10, filter: { tag: "b" } })).toEqual([]);
        expect(await store.count(target, newA)).toBe(2);
        expect(await store.count(target, a)).toBe(0);
        // The source keeps its ids.
        expect(await store.documentCounts(source)).toEqual(new Map([[a, 2], [b, 1], [c, 1]]));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("counts points per document, for the tenant only, and none for a missing collection", async () => {
      const c = ref();
      expect(await store.documentCounts(c)).toEqual(new Map());
      await store.ensureCollection(c, DIM);
      expect(await store.documentCounts(c)).toEqual(new Map());
      const [a, b] = [randomUUID(), randomUUID()];
      await store.upsert(c, [point(a, 0, [1]), point(a, 1, [1, 1]), point(a, 2, [0, 1]), point(b, 0, [1, 0, 1])]);
      expect(await store.documentCounts(c)).toEqual(new Map([[a, 3], [b, 1]]));
      await store.deleteDocument(c, a);
      expect(await store.documentCounts(c)).toEqual(new Map([[b, 1]]));
      expect(await store.documentCounts({ ...c, tenantId: `${tenant}-other` })).toEqual(new Map());
    });

    it("scans every point of a generation with its vector and metadata, for copying between stores", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      const docs = [randomUUID(), randomUUID()];
      // Metadata belongs to the document: every point of a document carries the same.
      const written = Array.from({ length: 25 }, (_, i) => point(docs[i % 2]!, i, [1, i / 10], { n: i % 2 }));
      await store.upsert(c, written);
      const seen: VectorPoint[] = [];
      for await (const batch of store.scan(c, 10)) {
        expect(batch.length).toBeLessThanOrEqual(10);
        seen.push(...batch);
      }
      expect(seen).toHaveLength(25);
      const byId = new Map(seen.map((p) => [p.id, p]));
      for (const p of written) {
        const got = byId.get(p.id)!;
        expect(got).toMatchObject({ documentId: p.documentId, chunkIndex: p.chunkIndex, metadata: p.metadata, text: p.text });
        got.vector.forEach((v, i) => expect(v).toBeCloseTo(p.vector[i]!, 5));
      }
    });

    it("optimize keeps every point and every answer", async () => {
      const c = ref();
      await store.ensureCollection(c, DIM);
      const doc = randomUUID();
      for (let i = 0; i < 5; i++) await store.upsert(c, [point(doc, i, [1, i / 5], { k: "v" })]);
      const query = unit([1, 0.3]);
      const before = await store.search(c, query, { topK: 5, filter: { k: "v" } });
      await store.optimize(c);
      await store.optimize(c);
      expect(await store.search(c, query, { topK: 5, filter: { k: "v" } })).toEqual(before);
      expect(await store.count(c, doc)).toBe(5);
    });

    describe("keyword search (BM25)", () => {
      const texts = [
        "The invoice is due within thirty days of delivery.",
        "Refunds are issued to the original payment method.",
        "Shipping to Norway takes five working days; shipping to Japan takes ten.",
        "Our office dog is called Biscuit.",
        "Invoices, invoices, invoices: the invoicing team handles every invoice dispute.",
        "AlphaGo在与人类棋手的对局中取得了胜利，创造了历史记录。",
      ];

      it("finds the chunks that share terms with the query, rarer and repeated terms ranking higher, and nothing for unknown words", async () => {
        const c = ref();
        await store.ensureCollection(c, DIM);
        const doc = randomUUID();
        const points = texts.map((t, i) => point(doc, i, [1, i], {}, t));
        await store.upsert(c, points);
        const invoice = await store.keywordSearch(c, "invoice dispute", { topK: 5 });
        expect(invoice.map((h) => h.chunkIndex)).toEqual([4, 0]);
        expect(invoice[0]!.score).toBeGreaterThan(invoice[1]!.score);
        expect(invoice[0]).toMatchObject({ id: points[4]!.id, documentId: doc });
        // Stemming or not, the exact word always matches; case does not matter.
        expect((await store.keywordSearch(c, "BISCUIT", { topK: 5 })).map((h) => h.chunkIndex)).toEqual([3]);
        expect((await store.keywordSearch(c, "shipping Japan", { topK: 1 })).map((h) => h.chunkIndex)).toEqual([2]);
        expect(await store.keywordSearch(c, "xylophone", { topK: 5 })).toEqual([]);
        // Scripts written without spaces are split into words (or bigrams), not kept as one token.
        expect((await store.keywordSearch(c, "历史记录", { topK: 5 })).map((h) => h.chunkIndex)).toEqual([5]);
        expect(await store.keywordSearch(c, "   ", { topK: 5 })).toEqual([]);
      });

      it("treats query syntax as plain words, and finds chunks written a moment ago", async () => {
        const c = ref();
        await store.ensureCollection(c, DIM);
        const doc = randomUUID();
        await store.upsert(c, texts.map((t, i) => point(doc, i, [1, i], {}, t)));
        await store.optimize(c);
        await store.upsert(c, [point(doc, 9, [1], {}, "A freshly written chunk about zeppelins.")]);
        expect((await store.keywordSearch(c, "zeppelins", { topK: 5 })).map((h) => h.chunkIndex)).toEqual([9]);
        for (const q of ['"refunds', "refunds AND (", "text:refunds", "refunds~2 OR *", "refunds\\", "-refunds +payment", "refunds'; DROP TABLE x; --"]) {
          const hits = await store.keywordSearch(c, q, { topK: 5 });
          expect(hits.map((h) => h.chunkIndex), q).toContain(1);
        }
      });

      it("is scoped by tenant, collection, generation and metadata filter, and forgets deleted documents", async () => {
        const c = ref();
        await store.ensureCollection(c, DIM);
        const [a, b] = [randomUUID(), randomUUID()];
        await store.upsert(c, [point(a, 0, [1], { lang: "en" }, "alpha marmalade"), point(b, 0, [1], { lang: "de" }, "beta marmalade")]);
        const other = ref();
        await store.ensureCollection(other, DIM);
        await store.upsert(other, [point(randomUUID(), 0, [1], {}, "gamma marmalade")]);
        const v1 = { ...c, version: 1 };
        await store.ensureCollection(v1, DIM);
        await store.upsert(v1, [point(randomUUID(), 0, [1], {}, "delta marmalade")]);

        expect((await store.keywordSearch(c, "marmalade", { topK: 10 })).map((h) => h.documentId).sort()).toEqual([a, b].sort());
        expect((await store.keywordSearch(c, "marmalade", { topK: 10, filter: { lang: "de" } })).map((h) => h.documentId)).toEqual([b]);
        expect(await store.keywordSearch(c, "marmalade", { topK: 10, filter: { lang: "fr" } })).toEqual([]);
        expect(await store.keywordSearch({ ...c, tenantId: `${tenant}-other` }, "marmalade", { topK: 10 })).toEqual([]);
        expect(await store.keywordSearch(v1, "marmalade", { topK: 10 })).toHaveLength(1);
        expect(await store.keywordSearch(ref(), "marmalade", { topK: 10 })).toEqual([]);
        await store.deleteDocument(c, a);
        expect((await store.keywordSearch(c, "marmalade", { topK: 10 })).map((h) => h.documentId)).toEqual([b]);
        expect(await store.keywordReadiness(c)).toBe("ready");
      });

      it("overwrites a point's text on upsert, not with setTexts (which only fills in missing text), and keeps the text through snapshot and restore", async () => {
        const c = ref();
        await store.ensureCollection(c, DIM);
        const doc = randomUUID();
        const p = point(doc, 0, [1], {}, "original wording");
        await store.upsert(c, [p]);
        await store.upsert(c, [{ ...p, text: "rewritten wording" }]);
        expect(await store.keywordSearch(c, "original", { topK: 5 })).toEqual([]);
        expect(await store.keywordSearch(c, "rewritten", { topK: 5 })).toHaveLength(1);
        // A backfill that read the point before it was rewritten must not undo the rewrite.
        await store.setTexts(c, [{ id: p.id, text: "stale backfill" }, { id: randomUUID(), text: "a point that does not exist" }]);
        expect(await store.keywordSearch(c, "stale", { topK: 5 })).toEqual([]);
        expect((await store.keywordSearch(c, "rewritten", { topK: 5 })).map((h) => h.id)).toEqual([p.id]);
        expect(await store.count(c)).toBe(1);
        expect(await store.pointsWithoutText(c, 10)).toEqual([]);

        const dir = mkdtempSync(path.join(tmpdir(), "quarry-kw-snap-"));
        try {
          await store.snapshot(c, dir);
          const target = ref();
          await store.ensureCollection(target, DIM);
          await store.restore(target, dir);
          expect((await store.keywordSearch(target, "rewritten", { topK: 5 })).map((h) => h.id)).toEqual([p.id]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });

    it("answers ping while it is reachable", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
