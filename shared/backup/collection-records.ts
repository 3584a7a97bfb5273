/**
 * The Postgres half of a per-collection backup: the collection row and its ready documents with
 * their chunks, as gzipped NDJSON (one JSON object per line, `\n`-terminated, UTF-8):
 *
 * ```
 * {"type":"header","format":"quarry.collection-records","version":1,"snapshot":"…","read_at":"…"}
 * {"type":"collection","id":…,"tenant_id":…,"name":…,"embedding":{…},"vector_version":…,"created_at":…,"updated_at":…}
 * {"type":"document","id":…,"title":…,"mime_type":…,"size_bytes":…,"sha256":…,"page_count":…,"chunk_count":…,
 *  "metadata":{…},"external_id":…,"callback_url":…,"warnings":[…],"ocr":…,"source_url":…,"final_url":…,
 *  "fetched_at":…,"file_id":…,"chunking":…,"created_at":…,"updated_at":…,"chunks":N}
 * {"type":"chunk","chunk_index":…,"text":…,"token_count":…,"page":…,"heading":…,"sheet":…,"slide":…,"ocr_confidence":…}
 *                                                                                     ← N of them, by chunk_index
 * … the next document and its chunks …                                                 ← documents by id
 * {"type":"end","documents":D,"chunks":C}
 * ```
 *
 * A chunk belongs to the document line before it. Timestamps are Postgres's own ISO 8601 text in
 * UTC with microseconds, so a restore writes back exactly what was read. `chunks` (how many chunk
 * lines follow) and the `end` line let a reader tell a complete file from one cut at a line break;
 * gzip's own trailer catches a cut anywhere else.
 */
import { pipeline } from "node:stream/promises";
import type { Readable, Writable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { v5 as uuidv5 } from "uuid";
import { z } from "zod";
import type pg from "pg";
import type { ChunkRow } from "../db/chunks.repository.ts";
import type { EmbeddingSpec } from "../db/collections.repository.ts";
import type { Db } from "../db/pool.ts";
import { withTransaction, type Transaction } from "../db/transaction.ts";
import { conflict, notFound } from "../errors/app-error.ts";

/**
 * A backup's records that cannot be imported: unreadable or inconsistent (`BACKUP_INVALID`), or a
 * target that already holds them (`RESTORE_TARGET_EXISTS`). The restore job that lands with the
 * backups issue maps these to its own error codes; nothing here is an HTTP answer.
 */
export type CollectionRecordsErrorCode = "BACKUP_INVALID" | "RESTORE_TARGET_EXISTS";

export class CollectionRecordsError extends Error {
  readonly code: CollectionRecordsErrorCode;
  constructor(code: CollectionRecordsErrorCode, message: string) {
    super(message);
    this.name = "CollectionRecordsError";
    this.code = code;
  }
}
import { embeddingSpecSchema } from "../jobs/embedding-spec.ts";

export const COLLECTION_RECORDS_FORMAT = "quarry.collection-records";
export const COLLECTION_RECORDS_VERSION = 1;

/** What an export read, and when: the caller records it in the backup's manifest. */
export interface ExportedCollectionRecords {
  documents: number;
  chunks: number;
  /** `pg_current_snapshot()` of the read: transactions committed before it are in, later ones not. */
  snapshot: string;
  /** When the snapshot was taken (ISO 8601, UTC, microseconds). */
  readAt: string;
  collection: { id: string; tenantId: string; name: string; embedding: EmbeddingSpec; vectorVersion: number };
  /** Chunks of each exported document (document id → chunk lines written): what its vectors must match. */
  documentChunks: Map<string, number>;
}

export interface ImportCollectionRecordsOptions {
  /** Restore beside the original under this new collection id (documents get new ids too). */
  asCollectionId?: string;
  /** The tenant the restored rows belong to; default: the backup's. */
  tenantId?: string;
  /** The restored collection's name; default: the backup's. Refused when an active collection of the tenant has it. */
  newName?: string;
  /** The vector generation the restored collection reads (where the restore put its vectors); default: the backup's. */
  vectorVersion?: number;
}

export interface ImportedCollectionRecords {
  collectionId: string;
  tenantId: string;
  name: string;
  embedding: EmbeddingSpec;
  vectorVersion: number;
  documents: number;
  chunks: number;
  /** Backup document id → restored document id (the identity when restoring in place). Vector point ids derive from it. */
  documentIds: Map<string, string>;
  snapshot: string;
  readAt: string;
}

const PAGE = 1000;
const FLUSH_CHARS = 64 * 1024;
const MAX_LINE_CHARS = 64 * 1024 * 1024;
const TS = (column: string) => `to_json(${column}) #>> '{}' AS ${column.replace(/^\w+\./, "")}`;

/**
 * Writes the collection's records to `out` as gzipped NDJSON (see the top of this file), and ends
 * `out`. Everything is read in one `REPEATABLE READ READ ONLY` transaction, so the file shows the
 * collection at one instant even while ingestion writes: a document that became ready after the
 * snapshot is absent with all its chunks, one that was ready is there with all of them. Rows are
 * streamed through server-side cursors, a page at a time, with the output's backpressure.
 *
 * Only **ready** documents are exported. Documents that are queued, processing, failed or being
 * deleted are not part of a backup — a restore cannot bring back half-ingested work — and their
 * uploaded bytes (`document_sources`) are not exported. Throws NOT_FOUND when the collection is
 * missing or being deleted; on any failure `out` is destroyed, never ended.
 */
export async function exportCollectionRecords(db: Db, collectionId: string, out: Writable): Promise<ExportedCollectionRecords> {
  // Whatever fails, `out` is not left open as if the records were complete.
  return withTransaction(db, (tx) => readRecords(tx, collectionId, out)).catch((err: unknown) => {
    out.destroy();
    throw err;
  });
}

async function readRecords(tx: Transaction, collectionId: string, out: Writable): Promise<ExportedCollectionRecords> {
  const c = tx.client;
  await c.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  await c.query("SET LOCAL TimeZone = 'UTC'");
  // A full read: plan for the whole result, not for its first rows.
  await c.query("SET LOCAL cursor_tuple_fraction = 1.0");
  const { rows: snap } = await c.query<{ snapshot: string; read_at: string }>(
    `SELECT pg_current_snapshot()::text AS snapshot, to_json(clock_timestamp()) #>> '{}' AS read_at`,
  );
  const { snapshot, read_at: readAt } = snap[0]!;
  const { rows: cols } = await c.query(
    `SELECT id, tenant_id, name, embedding, vector_version, ${TS("created_at")}, ${TS("updated_at")}
     FROM collections WHERE id = $1 AND status = 'active'`,
    [collectionId],
  );
  const col = cols[0];
  if (!col) throw notFound(`collection ${collectionId}`);
  await c.query(
    `DECLARE backup_documents NO SCROLL CURSOR FOR
     SELECT d.id, d.title, d.mime_type, d.size_bytes::float8 AS size_bytes, d.sha256, d.page_count, d.chunk_count, d.metadata,
            d.external_id, d.callback_url, d.warnings, d.ocr, d.source_url, d.final_url, ${TS("d.fetched_at")}, d.file_id, d.chunking, ${TS("d.created_at")}, ${TS("d.updated_at")},
            (SELECT count(*) FROM chunks ch WHERE ch.document_id = d.id)::int AS chunks
     FROM documents d WHERE d.collection_id = $1 AND d.status = 'ready' ORDER BY d.id`,
    [collectionId],
  );
  await c.query(
    `DECLARE backup_chunks NO SCROLL CURSOR FOR
     SELECT ch.document_id, ch.chunk_index, ch.text, ch.token_count, ch.page, ch.heading, ch.sheet, ch.slide, ch.ocr_confidence
     FROM chunks ch JOIN documents d ON d.id = ch.document_id
     WHERE d.collection_id = $1 AND d.status = 'ready' ORDER BY ch.document_id, ch.chunk_index`,
    [collectionId],
  );
  const counts = { documents: 0, chunks: 0 };
  const documentChunks = new Map<string, number>();
  // Level 1: on chunk text it compresses about as well as the default level 6 at 2–4× the speed
  // (gzip was most of a 100k-chunk backup's time; docs/benchmarks.md).
  await pipeline(exportLines(c, { snapshot, readAt, col }, counts, documentChunks), createGzip({ level: 1 }), out);
  return {
    ...counts,
    documentChunks,
    snapshot,
    readAt,
    collection: { id: col.id, tenantId: col.tenant_id, name: col.name, embedding: col.embedding, vectorVersion: col.vector_version },
  };
}

async function* exportLines(
  c: pg.PoolClient,
  head: { snapshot: string; readAt: string; col: Record<string, unknown> },
  counts: { documents: number; chunks: number },
  documentChunks: Map<string, number>,
): AsyncGenerator<string> {
  let buf =
    line({ type: "header", format: COLLECTION_RECORDS_FORMAT, version: COLLECTION_RECORDS_VERSION, snapshot: head.snapshot, read_at: head.readAt }) +
    line({ type: "collection", ...head.col });
  let chunks: ChunkRow[] = [];
  let at = 0;
  for (;;) {
    const { rows: docs } = await c.query(`FETCH ${PAGE} FROM backup_documents`);
    if (docs.length === 0) break;
    for (const { chunks: n, ...doc } of docs) {
      buf += line({ type: "document", ...doc, chunks: n });
      counts.documents++;
      documentChunks.set(doc.id, n);
      for (let k = 0; k < n; k++) {
        if (at === chunks.length) {
          chunks = (await c.query(`FETCH ${PAGE} FROM backup_chunks`)).rows;
          at = 0;
        }
        const ch = chunks[at++];
        // One snapshot serves both cursors, so this cannot happen short of a bug.
        if (!ch || ch.document_id !== doc.id) throw new Error(`chunks of document ${doc.id} do not follow it in the export`);
        buf += line({
          type: "chunk",
          chunk_index: ch.chunk_index,
          text: ch.text,
          token_count: ch.token_count,
          page: ch.page,
          heading: ch.heading,
          sheet: ch.sheet,
          slide: ch.slide,
          ocr_confidence: ch.ocr_confidence,
        });
        counts.chunks++;
        if (buf.length >= FLUSH_CHARS) {
          yield buf;
          buf = "";
        }
      }
      if (buf.length >= FLUSH_CHARS) {
        yield buf;
        buf = "";
      }
    }
  }
  yield buf + line({ type: "end", ...counts });
}

const line = (value: unknown) => `${JSON.stringify(value)}\n`;

/**
 * Removes the collection's row, all its documents (whatever their status, with their uploaded
 * bytes) and their chunks, inside the caller's transaction — before an in-place import. Other
 * collections are not touched. Locks the collection row first, so uploads in flight finish before
 * and later ones find the collection gone (or, after an in-place import commits, restored).
 */
export async function deleteCollectionRecords(tx: Transaction, collectionId: string): Promise<{ collection: boolean; documents: number; chunks: number }> {
  const c = tx.client;
  const { rowCount: found } = await c.query(`SELECT 1 FROM collections WHERE id = $1 FOR UPDATE`, [collectionId]);
  const { rowCount: chunks } = await c.query(
    `DELETE FROM chunks ch USING documents d WHERE d.id = ch.document_id AND d.collection_id = $1`,
    [collectionId],
  );
  const { rowCount: documents } = await c.query(`DELETE FROM documents WHERE collection_id = $1`, [collectionId]);
  await c.query(`DELETE FROM collections WHERE id = $1`, [collectionId]);
  return { collection: found === 1, documents: documents ?? 0, chunks: chunks ?? 0 };
}

const ts = z.iso.datetime({ offset: true });
const headerLine = z.strictObject({
  type: z.literal("header"),
  format: z.literal(COLLECTION_RECORDS_FORMAT),
  version: z.literal(COLLECTION_RECORDS_VERSION),
  snapshot: z.string().min(1),
  read_at: ts,
});
const collectionLine = z.strictObject({
  type: z.literal("collection"),
  id: z.guid(),
  tenant_id: z.string().min(1),
  name: z.string().min(1),
  embedding: embeddingSpecSchema.loose(),
  vector_version: z.int32().min(0),
  created_at: ts,
  updated_at: ts,
});
const documentLine = z.strictObject({
  type: z.literal("document"),
  id: z.guid(),
  title: z.string().nullable(),
  mime_type: z.string().min(1),
  size_bytes: z.int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  page_count: z.int32().nullable(),
  chunk_count: z.int32().min(0),
  metadata: z.record(z.string(), z.unknown()),
  external_id: z.string().nullable(),
  callback_url: z.string().nullable(),
  // Absent from backups taken before formats with sheets, slides, OCR and URLs (they restore as none).
  warnings: z.array(z.object({ code: z.string(), message: z.string() })).optional(),
  ocr: z.object({ pages: z.array(z.object({ page: z.int32().min(1), confidence: z.number() })), languages: z.array(z.string()) }).nullable().optional(),
  source_url: z.string().nullable().optional(),
  final_url: z.string().nullable().optional(),
  fetched_at: ts.nullable().optional(),
  // Absent from backups taken before the OpenAI-compatible API: documents not attached from a file.
  file_id: z.string().max(100).nullable().optional(),
  chunking: z.strictObject({ size: z.int().min(1), overlap: z.int().min(0) }).nullable().optional(),
  created_at: ts,
  updated_at: ts,
  chunks: z.int().min(0),
});
const chunkLine = z.strictObject({
  type: z.literal("chunk"),
  chunk_index: z.int32().min(0),
  text: z.string(),
  token_count: z.int32(),
  page: z.int32().nullable(),
  heading: z.string().nullable(),
  sheet: z.string().nullable().optional(),
  slide: z.int32().nullable().optional(),
  ocr_confidence: z.number().nullable().optional(),
});
const endLine = z.strictObject({ type: z.literal("end"), documents: z.int().min(0), chunks: z.int().min(0) });
const recordLine = z.discriminatedUnion("type", [headerLine, collectionLine, documentLine, chunkLine, endLine]);
type RecordLine = z.infer<typeof recordLine>;

const invalid = (message: string) => new CollectionRecordsError("BACKUP_INVALID", `collection records: ${message}`);

/**
 * Reads collection records written by `exportCollectionRecords` from `input` (gzipped NDJSON) and
 * inserts them inside the caller's transaction, in batches. Every line is validated; a corrupted,
 * truncated or incomplete stream throws BACKUP_INVALID (the caller's transaction then rolls back
 * and nothing changes — rows are written as the stream is read, so the caller must not commit
 * after a throw).
 *
 * In place (no `asCollectionId`): rows keep their ids; the caller must first remove the current
 * ones with `deleteCollectionRecords` in the same transaction (else RESTORE_TARGET_EXISTS).
 * With `asCollectionId`: the collection gets that id (created and updated now) and each document
 * the id uuid v5(old document id, namespace = new collection id), so running the same restore again
 * gives the same ids; `documentIds` maps old → new. A name held by an active collection of the
 * tenant is refused with COLLECTION_EXISTS. Documents are restored `ready`; the collection
 * `active`, with its backed-up embedding spec and vector version and no re-embed running.
 */
export async function importCollectionRecords(
  tx: Transaction,
  input: Readable | AsyncIterable<Uint8Array>,
  options: ImportCollectionRecordsOptions = {},
): Promise<ImportedCollectionRecords> {
  const importer = new Importer(tx.client, options);
  try {
    await pipeline(input, createGunzip(), async (source: AsyncIterable<Buffer>) => {
      const decoder = new TextDecoder("utf-8", { fatal: true });
      let carry = "";
      for await (const piece of source) {
        const lines = (carry + decoder.decode(piece, { stream: true })).split("\n");
        carry = lines.pop()!;
        if (carry.length > MAX_LINE_CHARS) throw invalid(`line ${importer.lineNo + lines.length + 1} is longer than ${MAX_LINE_CHARS} characters`);
        for (const l of lines) await importer.line(l);
      }
      carry += decoder.decode();
      if (carry !== "") throw invalid(`line ${importer.lineNo + 1} is cut off (no line break at the end)`);
    });
  } catch (err) {
    if (err instanceof TypeError && (err as { code?: string }).code === "ERR_ENCODING_INVALID_ENCODED_DATA") throw invalid(`line ${importer.lineNo + 1} is not UTF-8`);
    if (typeof (err as { code?: unknown }).code === "string" && (err as { code: string }).code.startsWith("Z_")) {
      throw invalid(`not a complete gzip stream (${(err as Error).message})`);
    }
    throw err;
  }
  return importer.finish();
}

type DocumentRecord = z.infer<typeof documentLine>;
type ChunkRecord = z.infer<typeof chunkLine> & { document_id: string };

class Importer {
  lineNo = 0;
  private readonly c: pg.PoolClient;
  private readonly options: ImportCollectionRecordsOptions;
  private header?: z.infer<typeof headerLine>;
  private target?: { id: string; tenantId: string; name: string; embedding: EmbeddingSpec; vectorVersion: number };
  private readonly documentIds = new Map<string, string>();
  private current?: { id: string; expected: number; seen: number; lastIndex: number };
  private docs: DocumentRecord[] = [];
  private chunks: ChunkRecord[] = [];
  private chunkChars = 0;
  private counts = { documents: 0, chunks: 0 };
  private ended = false;

  constructor(c: pg.PoolClient, options: ImportCollectionRecordsOptions) {
    this.c = c;
    this.options = options;
  }

  async line(text: string): Promise<void> {
    this.lineNo++;
    if (this.ended) throw invalid(`line ${this.lineNo}: nothing may follow the end line`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw invalid(`line ${this.lineNo} is not JSON`);
    }
    const result = recordLine.safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw invalid(`line ${this.lineNo}: ${issue?.path.join(".") || "(line)"}: ${issue?.message ?? "invalid"}`);
    }
    await this.record(result.data);
  }

  private async record(r: RecordLine): Promise<void> {
    const expect = this.header === undefined ? "header" : this.target === undefined ? "collection" : undefined;
    if (expect && r.type !== expect) throw invalid(`line ${this.lineNo}: expected the ${expect} line, found a ${r.type} line`);
    if (r.type === "header") {
      if (this.header) throw invalid(`line ${this.lineNo}: a second header line`);
      this.header = r;
    } else if (r.type === "collection") {
      if (this.target) throw invalid(`line ${this.lineNo}: a second collection line`);
      await this.insertCollection(r);
    } else if (r.type === "document") {
      this.closeDocument();
      if (this.documentIds.has(r.id)) throw invalid(`line ${this.lineNo}: document ${r.id} appears twice`);
      const id = this.options.asCollectionId ? uuidv5(r.id, this.target!.id) : r.id;
      this.documentIds.set(r.id, id);
      this.current = { id, expected: r.chunks, seen: 0, lastIndex: -1 };
      this.docs.push({ ...r, id });
      this.counts.documents++;
      if (this.docs.length >= PAGE) await this.flushDocuments();
    } else if (r.type === "chunk") {
      const doc = this.current;
      if (!doc || doc.seen === doc.expected) throw invalid(`line ${this.lineNo}: a chunk line that follows no document expecting it`);
      if (r.chunk_index <= doc.lastIndex) throw invalid(`line ${this.lineNo}: chunk_index ${r.chunk_index} is out of order`);
      doc.seen++;
      doc.lastIndex = r.chunk_index;
      this.chunks.push({ ...r, document_id: doc.id });
      this.chunkChars += r.text.length;
      this.counts.chunks++;
      if (this.chunks.length >= PAGE || this.chunkChars >= 8 * 1024 * 1024) await this.flushChunks();
    } else {
      this.closeDocument();
      if (r.documents !== this.counts.documents || r.chunks !== this.counts.chunks) {
        throw invalid(`line ${this.lineNo}: the end line counts ${r.documents} documents and ${r.chunks} chunks, the file holds ${this.counts.documents} and ${this.counts.chunks}`);
      }
      this.ended = true;
    }
  }

  private closeDocument() {
    const doc = this.current;
    if (doc && doc.seen !== doc.expected) throw invalid(`line ${this.lineNo}: document ${doc.id} has ${doc.seen} of its ${doc.expected} chunks`);
    this.current = undefined;
  }

  private async insertCollection(r: z.infer<typeof collectionLine>) {
    const id = this.options.asCollectionId ?? r.id;
    const tenantId = this.options.tenantId ?? r.tenant_id;
    const name = this.options.newName ?? r.name;
    const asNew = this.options.asCollectionId !== undefined;
    const { rowCount: exists } = await this.c.query(`SELECT 1 FROM collections WHERE id = $1`, [id]);
    if (exists) throw new CollectionRecordsError("RESTORE_TARGET_EXISTS", `collection ${id} still exists: remove its records (deleteCollectionRecords) in the same transaction first`);
    const { rowCount } = await this.c.query(
      `INSERT INTO collections (id, tenant_id, name, embedding, status, vector_version, created_at, updated_at)
       VALUES ($1, $2, $3, $4::jsonb, 'active', $5, coalesce($6::timestamptz, now()), coalesce($7::timestamptz, now()))
       ON CONFLICT (tenant_id, name) WHERE status = 'active' DO NOTHING`,
      [id, tenantId, name, JSON.stringify(r.embedding), this.options.vectorVersion ?? r.vector_version, asNew ? null : r.created_at, asNew ? null : r.updated_at],
    );
    if (rowCount !== 1) throw conflict("COLLECTION_EXISTS", `a collection named "${name}" already exists: restore it under another name`);
    this.target = { id, tenantId, name, embedding: r.embedding, vectorVersion: this.options.vectorVersion ?? r.vector_version };
  }

  private async flushDocuments() {
    const docs = this.docs;
    if (docs.length === 0) return;
    this.docs = [];
    try {
      await this.c.query(
        `INSERT INTO documents (id, tenant_id, collection_id, title, status, mime_type, size_bytes, sha256, page_count, chunk_count, metadata,
                                external_id, callback_url, created_at, updated_at, warnings, ocr, source_url, final_url, fetched_at, file_id, chunking)
         SELECT t.id, $1, $2, t.title, 'ready', t.mime, t.size, t.sha, t.pages, t.n, t.meta::jsonb, t.ext, t.cb, t.created, t.updated,
                t.warnings::jsonb, t.ocr::jsonb, t.url, t.final_url, t.fetched, t.file_id, t.chunking::jsonb
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::int[], $9::int[], $10::text[], $11::text[], $12::text[],
                     $13::timestamptz[], $14::timestamptz[], $15::text[], $16::text[], $17::text[], $18::text[], $19::timestamptz[], $20::text[], $21::text[])
           AS t(id, title, mime, size, sha, pages, n, meta, ext, cb, created, updated, warnings, ocr, url, final_url, fetched, file_id, chunking)`,
        [
          this.target!.tenantId,
          this.target!.id,
          docs.map((d) => d.id),
          docs.map((d) => d.title),
          docs.map((d) => d.mime_type),
          docs.map((d) => d.size_bytes),
          docs.map((d) => d.sha256),
          docs.map((d) => d.page_count),
          docs.map((d) => d.chunk_count),
          docs.map((d) => JSON.stringify(d.metadata)),
          docs.map((d) => d.external_id),
          docs.map((d) => d.callback_url),
          docs.map((d) => d.created_at),
          docs.map((d) => d.updated_at),
          docs.map((d) => JSON.stringify(d.warnings ?? [])),
          docs.map((d) => (d.ocr ? JSON.stringify(d.ocr) : null)),
          docs.map((d) => d.source_url ?? null),
          docs.map((d) => d.final_url ?? null),
          docs.map((d) => d.fetched_at ?? null),
          docs.map((d) => d.file_id ?? null),
          docs.map((d) => (d.chunking ? JSON.stringify(d.chunking) : null)),
        ],
      );
    } catch (err) {
      const { code, constraint } = err as { code?: string; constraint?: string };
      if (code !== "23505") throw err;
      if (constraint === "documents_collection_sha_key") throw invalid(`two documents have the same sha256`);
      throw new CollectionRecordsError("RESTORE_TARGET_EXISTS", `a document of the backup already exists in the database (${constraint ?? "unique violation"})`);
    }
  }

  private async flushChunks() {
    await this.flushDocuments();
    const chunks = this.chunks;
    if (chunks.length === 0) return;
    this.chunks = [];
    this.chunkChars = 0;
    await this.c.query(
      `INSERT INTO chunks (document_id, chunk_index, tenant_id, collection_id, text, token_count, page, heading, sheet, slide, ocr_confidence)
       SELECT t.doc, t.idx, $1, $2, t.text, t.tokens, t.page, t.heading, t.sheet, t.slide, t.ocr
       FROM unnest($3::uuid[], $4::int[], $5::text[], $6::int[], $7::int[], $8::text[], $9::text[], $10::int[], $11::real[])
         AS t(doc, idx, text, tokens, page, heading, sheet, slide, ocr)`,
      [
        this.target!.tenantId,
        this.target!.id,
        chunks.map((c) => c.document_id),
        chunks.map((c) => c.chunk_index),
        chunks.map((c) => c.text),
        chunks.map((c) => c.token_count),
        chunks.map((c) => c.page),
        chunks.map((c) => c.heading),
        chunks.map((c) => c.sheet ?? null),
        chunks.map((c) => c.slide ?? null),
        chunks.map((c) => c.ocr_confidence ?? null),
      ],
    );
  }

  async finish(): Promise<ImportedCollectionRecords> {
    if (!this.ended) throw invalid(this.header ? `the stream ends after line ${this.lineNo} without its end line` : "the stream is empty");
    await this.flushChunks();
    const { id, ...target } = this.target!;
    return { collectionId: id, ...target, ...this.counts, documentIds: this.documentIds, snapshot: this.header!.snapshot, readAt: this.header!.read_at };
  }
}
