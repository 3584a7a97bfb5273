import { mkdirSync } from "node:fs";
import * as lancedb from "@lancedb/lancedb";
import { Index } from "@lancedb/lancedb";
import { createRequire } from "node:module";
import { Field, FixedSizeList, Float32, Int32, Schema, Utf8, type Table as ArrowTable } from "apache-arrow";
import type * as Arrow from "apache-arrow";
import { pointId } from "../use-cases/point-id.ts";
import { matchesFilter } from "./filter.ts";
import type {
  CollectionRef,
  KeywordReadiness,
  KeywordSearchOptions,
  OptimizeOptions,
  ScoredPoint,
  SearchOptions,
  VectorPoint,
  VectorSnapshot,
  VectorStore,
} from "./vector-store.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function assertUuid(value: string, what: string): string {
  if (!UUID.test(value)) throw new Error(`${what} must be a uuid, got ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

// LanceDB's merge insert is not atomic across writers: two batches that both find no row for a key
// both insert it (lance#4585, lancedb#3377). Declared as the table's unenforced primary key, the key
// goes into each commit's conflict check and the loser re-runs its merge as an update. Measured
// here: 4 processes × 10 concurrent merges of the same 50 keys left 1,250 rows without it, 50 with it.
const PRIMARY_KEY = "lance-schema:unenforced-primary-key";
const keyField = (name: string) => new Field(name, new Utf8(), false, new Map([[`${PRIMARY_KEY}:position`, "1"]]));
const KEYS = { points: "id", docs: "document_id" } as const;
/** The tables of a snapshot directory, whatever collection and generation it was taken of. */
const SNAPSHOT_TABLES = { points: "points", docs: "docs" } as const;

/**
 * The keyword index: BM25 over the chunk text. Words are split by ICU segmentation, so scripts
 * written without spaces (Chinese, Japanese, Thai) split into words too (the "simple" tokenizer
 * keeps a whole run of Chinese as one token, and no query matched it); then English stemming and
 * stop words, lower case, ASCII folding. Without positions (no phrase queries): a third of the
 * size, and faster to build and update. A function: an Index is consumed by the table it is given to.
 */
const fts = () => Index.fts({ baseTokenizer: "icu/split", language: "English", stem: true, removeStopWords: true, lowercase: true, asciiFolding: true, withPosition: false });

/**
 * The ANN index of a semantic collection: IVF partitions (√rows of them) over RaBitQ codes of 4
 * bits per dimension, searched with `refineFactor` 5 (the best limit × 5 candidates re-scored with
 * the full vectors). Measured with `npm run bench -- ann` (docs/benchmarks.md, "ANN indexes"): as
 * accurate and fast as IVF-HNSW-SQ at 100k chunks but built 6–20× faster (1M × 1536 dimensions in
 * minutes); 4 bits rather than the default 1 because on clusters whose members are nearly
 * equidistant 1-bit codes kept recall@10 0.85 with refinement 5, 4-bit codes 0.997.
 */
const ann = () => Index.ivfRq({ distanceType: "cosine", numBits: 4 });
const REFINE_FACTOR = 5;

/** The scalar indexes metadata filters use on a points table (never on its key: see upsertNow), and the keyword index. */
async function ensureScalarIndexes(table: lancedb.Table): Promise<void> {
  const indices = new Set((await table.listIndices()).map((i) => i.columns.join(",")));
  if (!indices.has("document_id")) await table.createIndex("document_id", { config: Index.btree() });
  if (!indices.has("tenant_id")) await table.createIndex("tenant_id", { config: Index.bitmap() });
  if (!indices.has("text") && (await hasText(table))) await ensureKeywordIndex(table);
}

/** Builds the keyword index if the table has none; another process building it first is fine. */
async function ensureKeywordIndex(table: lancedb.Table): Promise<void> {
  const indexed = async () => (await table.listIndices()).some((i) => i.columns.join(",") === "text");
  if (await indexed()) return;
  await table.createIndex("text", { config: fts() }).catch(async (err: unknown) => {
    if (!(await indexed())) throw err;
  });
}

async function hasText(table: lancedb.Table): Promise<boolean> {
  return (await table.schema()).fields.some((f) => f.name === "text");
}

/** Rows of `data` whose document is one of `ids`. */
async function countOf(data: ArrowTable, ids: string[]): Promise<number> {
  const doomed = new Set(ids);
  const column = data.getChild("document_id");
  let n = 0;
  for (let i = 0; i < data.numRows; i++) if (doomed.has(String(column?.get(i)))) n++;
  return n;
}

/**
 * apache-arrow as LanceDB loads it (CommonJS): tables LanceDB returns are built from that copy's
 * classes, and arrow's constructors check `instanceof`, so new batches must come from it too.
 */
const lanceArrow = createRequire(import.meta.url)("apache-arrow") as typeof Arrow;

/**
 * A snapshot table with its documents renamed (and, for points, their ids re-derived). Only those
 * string columns are rebuilt; the vectors stay Arrow data as they were read.
 */
function renamed(data: ArrowTable, documentIds: ReadonlyMap<string, string>, points: boolean): ArrowTable {
  const documents = data.getChild("document_id");
  const chunks = data.getChild("chunk_index");
  const newDocuments: string[] = new Array(data.numRows);
  const newIds: string[] = points ? new Array(data.numRows) : [];
  for (let i = 0; i < data.numRows; i++) {
    const old = String(documents?.get(i));
    const documentId = documentIds.get(old);
    if (!documentId) throw new Error(`the snapshot holds document ${old}, which the restore does not map`);
    newDocuments[i] = documentId;
    if (points) newIds[i] = pointId(documentId, Number(chunks?.get(i)));
  }
  let offset = 0;
  const batches = data.batches.map((batch) => {
    const at = offset;
    offset += batch.numRows;
    const strings = (values: string[]) => {
      const built = lanceArrow.vectorFromArray(values.slice(at, at + batch.numRows), new lanceArrow.Utf8());
      if (built.data.length !== 1) throw new Error("a renamed column did not build as one piece");
      return built.data[0]!;
    };
    const children = batch.schema.fields.map((field, i) =>
      field.name === "document_id" ? strings(newDocuments) : points && field.name === "id" ? strings(newIds) : batch.data.children[i]!,
    );
    return new lanceArrow.RecordBatch(batch.schema, lanceArrow.makeData({ type: new lanceArrow.Struct(batch.schema.fields), length: batch.numRows, nullCount: 0, children }));
  });
  return new lanceArrow.Table(batches);
}

/**
 * The default vector store: LanceDB tables on local disk under `DATA_DIR/vectors`, no server
 * needed. Each Quarry collection has a points table (vectors) and a small documents table
 * (document metadata). A metadata filter is evaluated on the documents table with the reference
 * semantics and applied to the vector search as a pre-filter on document ids, so results are
 * exact top-k. Several processes may read and write the same directory.
 */
export class EmbeddedVectorStore implements VectorStore {
  readonly kind = "embedded" as const;
  private readonly dir: string;
  private connection?: Promise<lancedb.Connection>;
  private readonly tables = new Map<string, Promise<lancedb.Table>>();
  /** Tables whose primary key this instance has checked (and declared, on tables made before it). */
  private readonly keyed = new Map<string, Promise<lancedb.Table | undefined>>();
  /**
   * Points tables found with every row's text, and when: it stays so (every write carries text)
   * unless another process restores an old snapshot over the table, so it is checked again after a minute.
   */
  private readonly textComplete = new Map<string, number>();
  /** Points tables this instance has made sure have a keyword index. */
  private readonly keywordIndexed = new Map<string, Promise<void>>();
  private readonly annMinPoints: number;
  /** Documents tables' parsed metadata at one table version, by table and tenant (see documentsMatching). */
  private readonly metadataCache = new Map<string, { version: number; rows: Array<{ id: string; metadata: Record<string, unknown> }> }>();

  /**
   * `annMinPoints`: a semantic collection's generation gets an ANN index at the first maintenance
   * run that finds at least this many points (below it, exact search is fast enough).
   */
  constructor(dir: string, options: { annMinPoints?: number } = {}) {
    this.dir = dir;
    this.annMinPoints = options.annMinPoints ?? 50_000;
  }

  private db(): Promise<lancedb.Connection> {
    this.connection ??= (async () => {
      mkdirSync(this.dir, { recursive: true });
      // readConsistencyInterval 0: see other processes' writes (workers write, the API reads) at once.
      return lancedb.connect(this.dir, { readConsistencyInterval: 0 });
    })();
    return this.connection;
  }

  private names(ref: CollectionRef) {
    const id = assertUuid(ref.collectionId, "collection id").replaceAll("-", "");
    const suffix = ref.version ? `_v${ref.version}` : "";
    return { points: `points_${id}${suffix}`, docs: `docs_${id}${suffix}` };
  }

  private async open(name: string, create?: Schema): Promise<lancedb.Table | undefined> {
    const cached = this.tables.get(name);
    if (cached) return cached;
    const db = await this.db();
    const table = create
      ? db.createEmptyTable(name, create, { existOk: true })
      : db.openTable(name).catch((err: unknown) => {
          if (/not found|does not exist/i.test(String(err))) return undefined;
          throw err;
        });
    const opened = await table;
    if (opened) this.tables.set(name, Promise.resolve(opened));
    return opened;
  }

  /** A table to merge into, with `key` declared as its primary key. */
  private writable(name: string, key: string): Promise<lancedb.Table | undefined> {
    const cached = this.keyed.get(name);
    if (cached) return cached;
    const ready = (async () => {
      const table = await this.open(name);
      if (!table) return undefined;
      const declared = async () => (await table.schema()).fields.some((f) => f.name === key && [...f.metadata.keys()].some((k) => k.startsWith(PRIMARY_KEY)));
      if (key === KEYS.points) await this.addTextColumn(table);
      if (await declared()) return table;
      // A table from before the key was declared. Of processes racing to declare it, one wins and
      // repairs the duplicates the old race left; the others see it declared.
      const won = await table.setUnenforcedPrimaryKey(key).then(
        () => true,
        async (err: unknown) => {
          if (await declared()) return false;
          throw err;
        },
      );
      if (won) await this.dedupe(table, key);
      return table;
    })();
    this.keyed.set(name, ready);
    // Not kept when the table is missing or the check failed: the next write asks again.
    ready.then(
      (table) => table ?? this.keyed.delete(name),
      () => this.keyed.delete(name),
    );
    return ready;
  }

  /**
   * A points table made before keyword search has no text column: it gets one, empty (NULL), which
   * maintenance fills in from Postgres (`pointsWithoutText`, `setTexts`). Processes racing to add
   * it: the losers find it there.
   */
  private async addTextColumn(table: lancedb.Table): Promise<void> {
    if (await hasText(table)) return;
    await table.addColumns([{ name: "text", valueSql: "CAST(NULL AS STRING)" }]).catch(async (err: unknown) => {
      if (!(await hasText(table))) throw err;
    });
  }

  /** Keeps one row per key: what concurrent inserts left before the key was declared. */
  private async dedupe(table: lancedb.Table, key: string): Promise<void> {
    const seen = new Set<string>();
    const twice = new Set<string>();
    for await (const batch of table.query().select([key])) {
      for (const row of batch.toArray()) {
        const value = String(row[key]);
        if (seen.has(value)) twice.add(value);
        seen.add(value);
      }
    }
    const doubled = [...twice];
    for (let i = 0; i < doubled.length; i += 500) {
      const where = `${key} IN (${doubled.slice(i, i + 500).map(sqlString).join(", ")})`;
      const rows = new Map<string, Record<string, unknown>>();
      for (const row of await table.query().where(where).toArray()) {
        const plain = Object.fromEntries(Object.entries(row.toJSON() as Record<string, unknown>).map(([k, v]) => [k, k === "vector" ? Array.from(v as Iterable<number>) : v]));
        if (!rows.has(String(plain[key]))) rows.set(String(plain[key]), plain);
      }
      await table.delete(where);
      await table.mergeInsert(key).useIndex(false).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute([...rows.values()]);
    }
  }

  /**
   * Runs `fn` once more with freshly opened tables when a cached handle has gone stale: another
   * process dropped the table (a deletion, an abandoned re-embed) and perhaps made it anew.
   */
  private async fresh<T>(ref: CollectionRef, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const names = Object.values(this.names(ref));
      if (!/not found/i.test(String(err)) || !names.some((n) => this.tables.has(n))) throw err;
      this.forget(names);
      return fn();
    }
  }

  private forget(names: string[]): void {
    for (const name of names) {
      this.tables.delete(name);
      this.keyed.delete(name);
      this.textComplete.delete(name);
      this.keywordIndexed.delete(name);
      for (const key of this.metadataCache.keys()) if (key.startsWith(`${name}\n`)) this.metadataCache.delete(key);
    }
  }

  async ensureCollection(ref: CollectionRef, dimensions: number): Promise<void> {
    const names = this.names(ref);
    // Never trust a cached handle here: another process may have dropped the table since.
    this.forget(Object.values(names));
    await this.open(
      names.points,
      new Schema([
        keyField("id"),
        new Field("vector", new FixedSizeList(dimensions, new Field("item", new Float32(), true)), false),
        new Field("tenant_id", new Utf8(), false),
        new Field("document_id", new Utf8(), false),
        new Field("chunk_index", new Int32(), false),
        // Nullable: NULL marks a point written before keyword search existed (see addTextColumn).
        new Field("text", new Utf8(), true),
      ]),
    );
    await this.open(
      names.docs,
      new Schema([
        keyField("document_id"),
        new Field("tenant_id", new Utf8(), false),
        new Field("metadata", new Utf8(), false),
      ]),
    );
    await this.writable(names.points, KEYS.points);
    await this.writable(names.docs, KEYS.docs);
  }

  async dropCollection(ref: CollectionRef): Promise<void> {
    const db = await this.db();
    const names = this.names(ref);
    const id = assertUuid(ref.collectionId, "collection id").replaceAll("-", "");
    const generation = new RegExp(`^(points|docs)_${id}(_v\\d+)?$`);
    const doomed = (await db.tableNames({ limit: 1_000_000 })).filter((name) =>
      ref.version === undefined ? generation.test(name) : name === names.points || name === names.docs,
    );
    // Handles this process opened go too, even when another process dropped their tables already.
    this.forget([...this.tables.keys()].filter((name) => (ref.version === undefined ? generation.test(name) : name === names.points || name === names.docs)));
    for (const name of doomed) {
      this.forget([name]);
      await db.dropTable(name).catch((err: unknown) => {
        if (!String(err).includes("not found")) throw err;
      });
    }
  }

  async upsert(ref: CollectionRef, points: VectorPoint[]): Promise<void> {
    return this.fresh(ref, () => this.upsertNow(ref, points));
  }

  private async upsertNow(ref: CollectionRef, points: VectorPoint[]): Promise<void> {
    if (points.length === 0) return;
    const names = this.names(ref);
    const table = await this.writable(names.points, KEYS.points);
    const docs = await this.writable(names.docs, KEYS.docs);
    if (!table || !docs) throw new Error(`collection ${ref.collectionId} has no vector table; call ensureCollection first`);
    const byDocument = new Map(points.map((p) => [p.documentId, p.metadata]));
    // useIndex(false): with a scalar index on the key, LanceDB 0.39 skips the primary-key conflict
    // check (same test: 501 rows for 51 keys). The keys carry no index; this keeps it so.
    await docs
      .mergeInsert(KEYS.docs)
      .useIndex(false)
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(
        [...byDocument].map(([documentId, metadata]) => ({
          document_id: assertUuid(documentId, "document id"),
          tenant_id: ref.tenantId,
          metadata: JSON.stringify(metadata),
        })),
      );
    await table
      .mergeInsert(KEYS.points)
      .useIndex(false)
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(
        points.map((p) => ({
          id: p.id,
          vector: p.vector,
          tenant_id: ref.tenantId,
          document_id: p.documentId,
          chunk_index: p.chunkIndex,
          text: p.text,
        })),
      );
  }

  async search(ref: CollectionRef, vector: number[], options: SearchOptions): Promise<ScoredPoint[]> {
    return this.fresh(ref, () => this.searchNow(ref, vector, options));
  }

  private async searchNow(ref: CollectionRef, vector: number[], options: SearchOptions): Promise<ScoredPoint[]> {
    const names = this.names(ref);
    const table = await this.open(names.points);
    if (!table) return [];
    const where = await this.scope(ref, options.filter, options.documentIds);
    if (where === undefined) return [];
    // Without an ANN index the search is exact and refineFactor is ignored; with one, the
    // candidates are re-scored with the full vectors, so scores stay exact cosines.
    const rows = await table
      .vectorSearch(vector)
      .distanceType("cosine")
      .refineFactor(REFINE_FACTOR)
      .where(where)
      .select(["id", "document_id", "chunk_index", "_distance"])
      .limit(options.topK)
      .toArray();
    const hits = rows.map((r) => ({
      id: String(r.id),
      documentId: String(r.document_id),
      chunkIndex: Number(r.chunk_index),
      score: 1 - Number(r._distance),
    }));
    return options.scoreThreshold === undefined ? hits : hits.filter((h) => h.score >= options.scoreThreshold!);
  }

  async keywordSearch(ref: CollectionRef, query: string, options: KeywordSearchOptions): Promise<ScoredPoint[]> {
    return this.fresh(ref, () => this.keywordSearchNow(ref, query, options));
  }

  private async keywordSearchNow(ref: CollectionRef, query: string, options: KeywordSearchOptions): Promise<ScoredPoint[]> {
    if (!/[\p{L}\p{N}]/u.test(query)) return [];
    const names = this.names(ref);
    const table = await this.open(names.points);
    if (!table || !(await hasText(table))) return [];
    await this.keywordIndex(names.points, table);
    const where = await this.scope(ref, options.filter, options.documentIds);
    if (where === undefined) return [];
    // A MatchQuery: the words are matched as terms, never parsed as a query language. Rows written
    // since the index was last updated are searched without it, so fresh chunks are found too.
    const rows = await table
      .query()
      .fullTextSearch(new lancedb.MatchQuery(query, "text"))
      .where(where)
      .select(["id", "document_id", "chunk_index", "_score"])
      .limit(options.topK)
      .toArray();
    return rows.map((r) => ({ id: String(r.id), documentId: String(r.document_id), chunkIndex: Number(r.chunk_index), score: Number(r._score) }));
  }

  /** Makes sure a points table has its keyword index (built at once for a table that has none yet). */
  private keywordIndex(name: string, table: lancedb.Table): Promise<void> {
    let ready = this.keywordIndexed.get(name);
    if (!ready) {
      ready = ensureKeywordIndex(table);
      this.keywordIndexed.set(name, ready);
      ready.catch(() => this.keywordIndexed.delete(name));
    }
    return ready;
  }

  async keywordReadiness(ref: CollectionRef): Promise<KeywordReadiness> {
    return this.fresh(ref, async () => {
      const name = this.names(ref).points;
      if (Date.now() - (this.textComplete.get(name) ?? -Infinity) < 60_000) return "ready";
      const table = await this.open(name);
      if (!table) return "ready";
      const tenant = `tenant_id = ${sqlString(ref.tenantId)}`;
      const missing = (await hasText(table)) ? await table.countRows(`${tenant} AND text IS NULL`) : await table.countRows(tenant);
      if (missing > 0) return { missing };
      this.textComplete.set(name, Date.now());
      return "ready";
    });
  }

  async pointsWithoutText(ref: CollectionRef, limit: number): Promise<Array<{ id: string; documentId: string; chunkIndex: number }>> {
    return this.fresh(ref, async () => {
      const table = await this.writable(this.names(ref).points, KEYS.points);
      if (!table) return [];
      const rows = await table
        .query()
        .where(`tenant_id = ${sqlString(ref.tenantId)} AND text IS NULL`)
        .select(["id", "document_id", "chunk_index"])
        .limit(limit)
        .toArray();
      return rows.map((r) => ({ id: String(r.id), documentId: String(r.document_id), chunkIndex: Number(r.chunk_index) }));
    });
  }

  async setTexts(ref: CollectionRef, texts: Array<{ id: string; text: string }>): Promise<void> {
    if (texts.length === 0) return;
    return this.fresh(ref, async () => {
      const table = await this.writable(this.names(ref).points, KEYS.points);
      if (!table) return;
      // Whole rows (LanceDB's merge wants every column), read and written back with their text.
      // Only rows that exist and still have no text are updated: a point deleted meanwhile is not
      // brought back, and one rewritten meanwhile (new vector, its text) is not overwritten.
      const byId = new Map(texts.map((t) => [t.id, t.text]));
      const rows = await table
        .query()
        .where(`id IN (${[...byId.keys()].map(sqlString).join(", ")}) AND text IS NULL`)
        .select(["id", "vector", "tenant_id", "document_id", "chunk_index"])
        .toArray();
      if (rows.length === 0) return;
      await table
        .mergeInsert(KEYS.points)
        .useIndex(false)
        .whenMatchedUpdateAll({ where: "target.text IS NULL" })
        .execute(
          rows.map((r) => ({
            id: String(r.id),
            vector: Array.from(r.vector as Iterable<number>),
            tenant_id: String(r.tenant_id),
            document_id: String(r.document_id),
            chunk_index: Number(r.chunk_index),
            text: byId.get(String(r.id))!,
          })),
        );
    });
  }

  /**
   * The SQL that restricts a search to the tenant and to the documents the metadata filter
   * matches (a pre-filter: the results are the true top-k of those documents); undefined when no
   * document matches.
   */
  private async scope(ref: CollectionRef, filter: SearchOptions["filter"], documentIds?: readonly string[]): Promise<string | undefined> {
    const tenant = `tenant_id = ${sqlString(ref.tenantId)}`;
    const filtered = filter && Object.keys(filter).length > 0;
    if (!filtered && !documentIds) return tenant;
    let ids = filtered ? await this.documentsMatching(ref, filter) : [...documentIds!];
    if (filtered && documentIds) {
      const allowed = new Set(documentIds);
      ids = ids.filter((id) => allowed.has(id));
    }
    return ids.length === 0 ? undefined : `${tenant} AND document_id IN (${ids.map((id) => sqlString(assertUuid(id, "document id"))).join(", ")})`;
  }

  private async documentsMatching(ref: CollectionRef, filter: NonNullable<SearchOptions["filter"]>): Promise<string[]> {
    const name = this.names(ref).docs;
    const docs = await this.open(name);
    if (!docs) return [];
    // The documents' parsed metadata, read again only when the table has a new version: a
    // filtered search (and hybrid's two) costs no scan and no JSON parsing while nothing changed.
    const version = await docs.version();
    const key = `${name}\n${ref.tenantId}`;
    let cached = this.metadataCache.get(key);
    if (cached?.version !== version) {
      const rows = await docs.query().where(`tenant_id = ${sqlString(ref.tenantId)}`).select(["document_id", "metadata"]).toArray();
      cached = { version, rows: rows.map((r) => ({ id: String(r.document_id), metadata: JSON.parse(String(r.metadata)) as Record<string, unknown> })) };
      if (this.metadataCache.size >= 64) this.metadataCache.delete(this.metadataCache.keys().next().value!);
      this.metadataCache.set(key, cached);
    }
    return cached.rows.filter((r) => matchesFilter(filter, r.metadata)).map((r) => r.id);
  }

  async setDocumentMetadata(ref: CollectionRef, documentId: string, metadata: Record<string, unknown>): Promise<void> {
    return this.fresh(ref, async () => {
      const docs = await this.writable(this.names(ref).docs, KEYS.docs);
      if (!docs) return;
      await docs.update({
        where: `document_id = ${sqlString(assertUuid(documentId, "document id"))} AND tenant_id = ${sqlString(ref.tenantId)}`,
        values: { metadata: JSON.stringify(metadata) },
      });
    });
  }

  async deleteDocument(ref: CollectionRef, documentId: string): Promise<void> {
    return this.fresh(ref, () => this.deleteDocumentNow(ref, documentId));
  }

  private async deleteDocumentNow(ref: CollectionRef, documentId: string): Promise<void> {
    const names = this.names(ref);
    const id = sqlString(assertUuid(documentId, "document id"));
    await (await this.open(names.points))?.delete(`document_id = ${id}`);
    await (await this.open(names.docs))?.delete(`document_id = ${id}`);
  }

  async count(ref: CollectionRef, documentId?: string): Promise<number> {
    return this.fresh(ref, () => this.countNow(ref, documentId));
  }

  private async countNow(ref: CollectionRef, documentId?: string): Promise<number> {
    const table = await this.open(this.names(ref).points);
    if (!table) return 0;
    const where = [`tenant_id = ${sqlString(ref.tenantId)}`];
    if (documentId) where.push(`document_id = ${sqlString(assertUuid(documentId, "document id"))}`);
    return table.countRows(where.join(" AND "));
  }

  async *scan(ref: CollectionRef, batchSize = 1000): AsyncIterable<VectorPoint[]> {
    const names = this.names(ref);
    const table = await this.open(names.points);
    const docs = await this.open(names.docs);
    if (!table || !docs) return;
    const tenant = `tenant_id = ${sqlString(ref.tenantId)}`;
    const metadata = new Map(
      (await docs.query().where(tenant).select(["document_id", "metadata"]).toArray()).map((r) => [String(r.document_id), JSON.parse(String(r.metadata))]),
    );
    let batch: VectorPoint[] = [];
    const columns = ["id", "vector", "document_id", "chunk_index", ...((await hasText(table)) ? ["text"] : [])];
    for await (const records of table.query().where(tenant).select(columns)) {
      for (const row of records.toArray()) {
        const documentId = String(row.document_id);
        batch.push({
          id: String(row.id),
          vector: Array.from(row.vector as Iterable<number>),
          documentId,
          chunkIndex: Number(row.chunk_index),
          metadata: metadata.get(documentId) ?? {},
          text: row.text == null ? "" : String(row.text),
        });
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
    if (batch.length > 0) yield batch;
  }

  /**
   * Copies the generation's two tables, each read at one version, into a LanceDB database in
   * `dir` as tables `points` and `docs`. With `documents`, the rows of other documents (those
   * still being ingested) are deleted from the copy.
   */
  async snapshot(ref: CollectionRef, dir: string, options: { documents?: ReadonlySet<string> } = {}): Promise<VectorSnapshot> {
    return this.fresh(ref, () => this.snapshotNow(ref, dir, options.documents));
  }

  private async snapshotNow(ref: CollectionRef, dir: string, wanted?: ReadonlySet<string>): Promise<VectorSnapshot> {
    const names = this.names(ref);
    const target = await lancedb.connect(dir);
    try {
      const documents = new Map<string, number>();
      const described = new Set<string>();
      let points = 0;
      for (const [name, as] of [[names.points, SNAPSHOT_TABLES.points], [names.docs, SNAPSHOT_TABLES.docs]] as const) {
        const table = await this.open(name);
        if (!table) throw new Error(`collection ${ref.collectionId} generation ${ref.version ?? 0} has no table ${name}`);
        // One read at one table version: a consistent copy even while workers write.
        const data = await table.query().toArrow();
        const copy = data.numRows > 0 ? await target.createTable(as, data, { mode: "overwrite" }) : await target.createEmptyTable(as, data.schema, { mode: "overwrite" });
        const ids = data.getChild("document_id");
        const extra = new Set<string>();
        for (let i = 0; i < data.numRows; i++) {
          const id = String(ids?.get(i));
          if (wanted && !wanted.has(id)) extra.add(id);
          else if (as === SNAPSHOT_TABLES.points) documents.set(id, (documents.get(id) ?? 0) + 1);
          else described.add(id);
        }
        const doomed = [...extra];
        for (let i = 0; i < doomed.length; i += 500) await copy.delete(`document_id IN (${doomed.slice(i, i + 500).map(sqlString).join(", ")})`);
        if (as === SNAPSHOT_TABLES.points) points = data.numRows - (doomed.length > 0 ? await countOf(data, doomed) : 0);
        copy.close();
      }
      // The two tables are read at their own versions: a document deleted in between has its points
      // and no metadata row. Reported without points, so the caller sees it as changed and reads again.
      for (const id of [...documents.keys()]) if (!described.has(id)) documents.delete(id);
      return { points, documents };
    } finally {
      target.close();
    }
  }

  /**
   * Replaces the generation's tables with the snapshot's. With `documentIds`, rows are rewritten
   * first: new document ids, and point ids derived from them.
   */
  async restore(ref: CollectionRef, dir: string, options: { documentIds?: ReadonlyMap<string, string> } = {}): Promise<void> {
    const names = this.names(ref);
    const source = await lancedb.connect(dir);
    const db = await this.db();
    try {
      for (const [as, name] of [[SNAPSHOT_TABLES.points, names.points], [SNAPSHOT_TABLES.docs, names.docs]] as const) {
        const table = await source.openTable(as).catch(() => undefined);
        if (!table) throw new Error(`the snapshot in ${dir} has no table ${as}`);
        let data = await table.query().toArrow();
        const schema = data.schema;
        table.close();
        if (options.documentIds && data.numRows > 0) data = renamed(data, options.documentIds, as === SNAPSHOT_TABLES.points);
        this.forget([name]);
        const written = data.numRows === 0 ? await db.createEmptyTable(name, schema, { mode: "overwrite" }) : await db.createTable(name, data, { mode: "overwrite", schema });
        // The indexes filters use, at once rather than at the next maintenance run.
        if (as === SNAPSHOT_TABLES.points && data.numRows > 0) await ensureScalarIndexes(written);
        written.close();
      }
    } finally {
      source.close();
    }
  }

  async documentCounts(ref: CollectionRef): Promise<Map<string, number>> {
    return this.fresh(ref, async () => {
      const counts = new Map<string, number>();
      const table = await this.open(this.names(ref).points);
      if (!table) return counts;
      for await (const batch of table.query().where(`tenant_id = ${sqlString(ref.tenantId)}`).select(["document_id"])) {
        const ids = batch.getChild("document_id");
        for (let i = 0; i < batch.numRows; i++) {
          const id = String(ids?.get(i));
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
      }
      return counts;
    });
  }

  /**
   * Compacts the small fragments every upsert leaves (keeping a minute of old versions for
   * readers), brings every index up to date with the rows written since, and keeps scalar indexes
   * on `document_id` and `tenant_id` (filters) and the keyword index on `text`.
   *
   * A semantic generation of `annMinPoints` points or more gets an ANN index (IVF-RQ, searched
   * with refinement). A lexical one stays exact: on the local embedder's feature-hashed vectors
   * LanceDB's IVF/HNSW indexes found barely half of the true top 5.
   */
  async optimize(ref: CollectionRef, options: OptimizeOptions = {}): Promise<void> {
    const names = this.names(ref);
    const table = await this.open(names.points);
    const docs = await this.open(names.docs);
    if (!table || !docs) return;
    await this.addTextColumn(table);
    const keep = new Date(Date.now() - 60_000);
    await table.optimize({ cleanupOlderThan: keep });
    await docs.optimize({ cleanupOlderThan: keep });
    await ensureScalarIndexes(table);
    if (options.semantic) await this.ensureAnnIndex(table);
  }

  /**
   * Builds the ANN index once the table is large enough, and trains it again when the table has
   * doubled since: `optimize` adds new rows to the existing partitions, which were laid out for
   * the rows there at training time.
   */
  private async ensureAnnIndex(table: lancedb.Table): Promise<void> {
    const rows = await table.countRows();
    if (rows < this.annMinPoints) return;
    const index = (await table.listIndices()).find((i) => i.columns.join(",") === "vector");
    // The index's name records how many rows it was trained on.
    const trained = Number(/^vector_ann_(\d+)$/.exec(index?.name ?? "")?.[1] ?? 0);
    if (index && rows < 2 * trained) return;
    await table.createIndex("vector", { config: ann(), replace: true, name: `vector_ann_${rows}` });
    if (index && index.name !== `vector_ann_${rows}`) await table.dropIndex(index.name).catch(() => undefined);
  }

  async ping(): Promise<void> {
    await (await this.db()).tableNames();
  }

  async close(): Promise<void> {
    for (const table of this.tables.values()) (await table.catch(() => undefined))?.close();
    this.tables.clear();
    this.keyed.clear();
    this.textComplete.clear();
    this.keywordIndexed.clear();
    this.metadataCache.clear();
    (await this.connection)?.close();
    this.connection = undefined;
  }
}
