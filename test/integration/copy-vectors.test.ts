import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyVectors } from "../../shared/use-cases/copy-vectors.ts";
import { EmbeddedVectorStore } from "../../shared/vector-store/embedded.vector-store.ts";

const dirs = [mkdtempSync(path.join(tmpdir(), "quarry-src-")), mkdtempSync(path.join(tmpdir(), "quarry-dst-"))];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("copyVectors (moving a collection to another store without re-embedding)", () => {
  it("copies every point with its id, vector and metadata, so search answers the same", async () => {
    // Qdrant is the production target; the copy logic only uses the port, so two embedded stores prove it here.
    const source = new EmbeddedVectorStore(dirs[0]!);
    const target = new EmbeddedVectorStore(dirs[1]!);
    const ref = { tenantId: "acme", collectionId: randomUUID(), version: 2 };
    await source.ensureCollection(ref, 4);
    const docs = [randomUUID(), randomUUID()];
    const points = Array.from({ length: 1200 }, (_, i) => {
      const v = [Math.sin(i), Math.cos(i), (i % 7) / 7, 1];
      const n = Math.hypot(...v);
      return { id: randomUUID(), vector: v.map((x) => x / n), documentId: docs[i % 2]!, chunkIndex: i, metadata: { half: i % 2 }, text: `chunk ${i}` };
    });
    await source.upsert(ref, points);
    const result = await copyVectors(source, target, ref, 4);
    expect(result).toEqual({ copied: 1200, sourceCount: 1200, targetCount: 1200 });
    const query = points[17]!.vector;
    expect(await target.search(ref, query, { topK: 5, filter: { half: 1 } })).toEqual(await source.search(ref, query, { topK: 5, filter: { half: 1 } }));
    // Running it again overwrites rather than duplicates.
    expect((await copyVectors(source, target, ref, 4)).targetCount).toBe(1200);
    await source.close();
    await target.close();
  });
});
