import type { Deps } from "../deps.ts";
import type { Filter } from "../vector-store/filter.ts";
import { getCollection } from "./collections.ts";

export interface SearchHit {
  document_id: string;
  chunk_index: number;
  score: number;
  text: string;
  title: string | null;
  metadata: Record<string, unknown>;
  page?: number;
  heading?: string;
}

/**
 * Embeds the query with the collection's own embedding model, asks the vector store, and joins
 * the hits with their chunk text and document from Postgres (the source of truth).
 */
export async function searchCollection(
  deps: Deps,
  tenantId: string,
  collectionId: string,
  query: { query: string; topK: number; filter?: Filter; scoreThreshold?: number },
): Promise<SearchHit[]> {
  const collection = await getCollection(deps, tenantId, collectionId);
  const [vector] = await deps.embedders.for(collection.embedding).embed([query.query]);
  const points = await deps.vectorStore.search({ tenantId, collectionId, version: collection.vector_version }, vector!, {
    topK: query.topK,
    filter: query.filter,
    scoreThreshold: query.scoreThreshold,
  });
  const rows = await deps.chunks.findHits(
    collectionId,
    points.map((p) => ({ documentId: p.documentId, chunkIndex: p.chunkIndex })),
  );
  const byKey = new Map(rows.map((r) => [`${r.document_id}:${r.chunk_index}`, r]));
  return points.flatMap((p) => {
    const row = byKey.get(`${p.documentId}:${p.chunkIndex}`);
    if (!row) return []; // a document still being ingested or deleted
    return [
      {
        document_id: p.documentId,
        chunk_index: p.chunkIndex,
        score: p.score,
        text: row.text,
        title: row.title,
        metadata: row.metadata,
        ...(row.page !== null ? { page: row.page } : {}),
        ...(row.heading ? { heading: row.heading } : {}),
      },
    ];
  });
}
