import type { Queryable } from "./queryable.ts";

export interface ChunkRow {
  document_id: string;
  chunk_index: number;
  text: string;
  token_count: number;
  page: number | null;
  heading: string | null;
  sheet: string | null;
  slide: number | null;
  ocr_confidence: number | null;
}

/** A chunk as parsing made it (shared/parsing/chunker.ts), before it is stored. */
export interface NewChunk {
  text: string;
  tokenCount: number;
  page: number | null;
  heading: string | null;
  sheet?: string | null;
  slide?: number | null;
  ocrConfidence?: number | null;
}

export interface ChunkHit extends ChunkRow {
  title: string | null;
  metadata: Record<string, unknown>;
}

export class ChunksRepository {
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  /** Replaces the document's chunks (a retried ingest rewrites them, never duplicates). */
  async replace(
    doc: { id: string; tenantId: string; collectionId: string },
    chunks: NewChunk[],
  ): Promise<void> {
    await this.q.query(`DELETE FROM chunks WHERE document_id = $1`, [doc.id]);
    const batch = 1000;
    for (let start = 0; start < chunks.length; start += batch) {
      const slice = chunks.slice(start, start + batch);
      await this.q.query(
        `INSERT INTO chunks (document_id, chunk_index, tenant_id, collection_id, text, token_count, page, heading, sheet, slide, ocr_confidence)
         SELECT $1, t.idx, $2, $3, t.text, t.tokens, t.page, t.heading, t.sheet, t.slide, t.ocr
         FROM unnest($4::int[], $5::text[], $6::int[], $7::int[], $8::text[], $9::text[], $10::int[], $11::real[])
           AS t(idx, text, tokens, page, heading, sheet, slide, ocr)`,
        [
          doc.id,
          doc.tenantId,
          doc.collectionId,
          slice.map((_, i) => start + i),
          slice.map((c) => c.text),
          slice.map((c) => c.tokenCount),
          slice.map((c) => c.page),
          slice.map((c) => c.heading),
          slice.map((c) => c.sheet ?? null),
          slice.map((c) => c.slide ?? null),
          slice.map((c) => c.ocrConfidence ?? null),
        ],
      );
    }
  }

  /** A document's chunk texts in order, `limit` of them from `offset`. */
  async ofDocument(documentId: string, offset: number, limit: number): Promise<string[]> {
    const { rows } = await this.q.query<{ text: string }>(`SELECT text FROM chunks WHERE document_id = $1 ORDER BY chunk_index OFFSET $2 LIMIT $3`, [documentId, offset, limit]);
    return rows.map((r) => r.text);
  }

  /** Every chunk key of the collection's ready documents, in (document, index) order. */
  async readyKeys(collectionId: string): Promise<Array<{ document_id: string; chunk_index: number; token_count: number }>> {
    const { rows } = await this.q.query(
      `SELECT ch.document_id, ch.chunk_index, ch.token_count FROM chunks ch JOIN documents d ON d.id = ch.document_id
       WHERE ch.collection_id = $1 AND d.status = 'ready' ORDER BY ch.document_id, ch.chunk_index`,
      [collectionId],
    );
    return rows;
  }

  /** The text of chunks by (document, index), whatever their document's status; absent keys have no chunk. */
  async texts(collectionId: string, keys: Array<{ documentId: string; chunkIndex: number }>): Promise<Array<{ document_id: string; chunk_index: number; text: string }>> {
    if (keys.length === 0) return [];
    const { rows } = await this.q.query(
      `SELECT ch.document_id, ch.chunk_index, ch.text
       FROM unnest($2::uuid[], $3::int[]) AS k(document_id, chunk_index)
       JOIN chunks ch ON ch.document_id = k.document_id AND ch.chunk_index = k.chunk_index
       JOIN documents d ON d.id = ch.document_id
       WHERE d.collection_id = $1`,
      [collectionId, keys.map((k) => k.documentId), keys.map((k) => k.chunkIndex)],
    );
    return rows;
  }

  /** Chunks from..to inclusive in (document, index) order, with their document's metadata. */
  async range(
    collectionId: string,
    from: { document_id: string; chunk_index: number },
    to: { document_id: string; chunk_index: number },
    options: { readyOnly?: boolean } = {},
  ): Promise<Array<{ document_id: string; chunk_index: number; text: string; token_count: number; metadata: Record<string, unknown> }>> {
    const { rows } = await this.q.query(
      `SELECT ch.document_id, ch.chunk_index, ch.text, ch.token_count, d.metadata
       FROM chunks ch JOIN documents d ON d.id = ch.document_id
       WHERE ch.collection_id = $1 AND d.status <> 'deleting' AND (NOT $6 OR d.status = 'ready')
         AND (ch.document_id, ch.chunk_index) >= ($2::uuid, $3::int) AND (ch.document_id, ch.chunk_index) <= ($4::uuid, $5::int)
       ORDER BY ch.document_id, ch.chunk_index`,
      [collectionId, from.document_id, from.chunk_index, to.document_id, to.chunk_index, options.readyOnly ?? false],
    );
    return rows;
  }

  /**
   * The chunks behind vector hits, with their document's title and metadata, in no particular order.
   * The collection is checked on the document, not the chunk: with `chunks.collection_id` in the
   * WHERE clause, a table not analyzed since a bulk load (the statistics say nothing of the new
   * rows) was planned as a bitmap AND of the primary key and `chunks_collection_idx`, reading every
   * chunk of the collection once per hit — 78 ms of a 100 ms search at 100k chunks; 3 ms like this.
   */
  async findHits(collectionId: string, keys: Array<{ documentId: string; chunkIndex: number }>): Promise<ChunkHit[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.q.query(
      `SELECT ch.document_id, ch.chunk_index, ch.text, ch.token_count, ch.page, ch.heading, ch.sheet, ch.slide, ch.ocr_confidence, d.title, d.metadata
       FROM unnest($2::uuid[], $3::int[]) AS k(document_id, chunk_index)
       JOIN chunks ch ON ch.document_id = k.document_id AND ch.chunk_index = k.chunk_index
       JOIN documents d ON d.id = ch.document_id
       WHERE d.collection_id = $1 AND d.status = 'ready'`,
      [collectionId, keys.map((k) => k.documentId), keys.map((k) => k.chunkIndex)],
    );
    return rows;
  }
}
