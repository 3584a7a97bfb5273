import { mkdirSync } from "node:fs";
import * as lancedb from "@lancedb/lancedb";
import { Index } from "@lancedb/lancedb";
import { createRequire } from "node:module";
import { Field, FixedSizeList, Float32, Int32, Schema, Utf8, type Table as ArrowTable } from "apache-arrow";
import type * as Arrow from "apache-arrow";
import { pointId } from "../use-cases/point-id.ts";
import { matchesFilter } from "./filter.ts";
import type { CollectionRef, ScoredPoint, SearchOptions, VectorPoint, VectorSnapshot, VectorStore } from "./vector-store.ts";

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

/** The scalar indexes metadata filters use on a points table (never on its key: see upsertNow). */
async function ensureScalarIndexes(table: lancedb.Table): Promise<void> {
  const indices = new Set((await table.listIndices()).map((i) => i.columns.join(",")));
  if (!indices.has("document_id")) await table.createIndex("document_id", { config: Index.btree() });
  if (!indices.has("tenant_id")) await table.createIndex("tenant_id", { config: Index.bitmap() });
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

  constructor(dir: string) {
    this.dir = dir;
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
    const where = [`tenant_id = ${sqlString(ref.tenantId)}`];
    if (options.filter && Object.keys(options.filter).length > 0) {
      const ids = await this.documentsMatching(ref, options.filter);
      if (ids.length === 0) return [];
      where.push(`document_id IN (${ids.map(sqlString).join(", ")})`);
    }
    const rows = await table
      .vectorSearch(vector)
      .distanceType("cosine")
      .where(where.join(" AND "))
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

  private async documentsMatching(ref: CollectionRef, filter: NonNullable<SearchOptions["filter"]>): Promise<string[]> {
    const docs = await this.open(this.names(ref).docs);
    if (!docs) return [];
    const rows = await docs.query().where(`tenant_id = ${sqlString(ref.tenantId)}`).select(["document_id", "metadata"]).toArray();
    return rows.filter((r) => matchesFilter(filter, JSON.parse(String(r.metadata)))).map((r) => String(r.document_id));
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
    for await (const records of table.query().where(tenant).select(["id", "vector", "document_id", "chunk_index"])) {
      for (const row of records.toArray()) {
        const documentId = String(row.document_id);
        batch.push({ id: String(row.id), vector: Array.from(row.vector as Iterable<number>), documentId, chunkIndex: Number(row.chunk_index), metadata: metadata.get(documentId) ?? {} });
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
   * readers) and keeps scalar indexes on `document_id` and `tenant_id`, which filters use. Search
   * stays exact: no vector (ANN) index is built — on the lexical default embedder's vectors
   * LanceDB's IVF/HNSW indexes found barely half of the true top 5. Large collections belong in
   * Qdrant.
   */
  async optimize(ref: CollectionRef): Promise<void> {
    const names = this.names(ref);
    const table = await this.open(names.points);
    const docs = await this.open(names.docs);
    if (!table || !docs) return;
    const keep = new Date(Date.now() - 60_000);
    await table.optimize({ cleanupOlderThan: keep });
    await docs.optimize({ cleanupOlderThan: keep });
    await ensureScalarIndexes(table);
  }

  async ping(): Promise<void> {
    await (await this.db()).tableNames();
  }

  async close(): Promise<void> {
    for (const table of this.tables.values()) (await table.catch(() => undefined))?.close();
    this.tables.clear();
    this.keyed.clear();
    (await this.connection)?.close();
    this.connection = undefined;
  }
}
