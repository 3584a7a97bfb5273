import { createHash } from "node:crypto";
import { createWriteStream, existsSync, openAsBlob } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { setTimeout as sleep } from "node:timers/promises";
import { QdrantClient, type Schemas } from "@qdrant/js-client-rest";
import { AppError } from "../errors/app-error.ts";
import { pointId } from "../use-cases/point-id.ts";
import { documentSparseVector, querySparseVector } from "./bm25-sparse.ts";
import { toQdrantFilter } from "./qdrant-filter.ts";
import type {
  CollectionRef,
  KeywordReadiness,
  KeywordSearchOptions,
  ScoredPoint,
  SearchOptions,
  VectorPoint,
  VectorSnapshot,
  VectorStore,
} from "./vector-store.ts";

const UPSERT_BATCH = 256;
const REWRITE_BATCH = 256;
const SCROLL_PAGE = 1000;
const NAME_PREFIX = "quarry_";
/** The snapshot's file in a snapshot directory; independent of the collection, so any generation can load it. */
const SNAPSHOT_FILE = "collection.snapshot";
/** The named sparse vector holding each point's BM25 terms (bm25-sparse.ts), beside the unnamed dense one. */
const TEXT_VECTOR = "text";
/** A collection found without TEXT_VECTOR is read again after this long (Qdrant upgraded, or another process added it). */
const UNSUPPORTED_RECHECK_MS = 5 * 60_000;
/**
 * A collection found with every point's text is counted again after this long: a process that
 * had not seen the upgrade yet may have written points without text meanwhile.
 */
const READY_RECHECK_MS = 10 * 60_000;

type SnapshotDescription = Schemas["SnapshotDescription"];

const conditions = (filter: Schemas["Filter"]) => (filter.must ?? []) as Schemas["Condition"][];

/** The tenant's points without payload text: written before keyword search, or to a collection without its index. */
const withoutText = (tenantId: string): Schemas["Filter"] => ({ must: [...conditions(toQdrantFilter(tenantId)), { is_empty: { key: "text" } }] });

/** Which outside failures mean "try again later" (503 + Retry-After, job retried). */
function storeError(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  const status = (err as { status?: number }).status;
  const name = (err as Error).name ?? "";
  const message = err instanceof Error ? err.message : String(err);
  const transient =
    status === undefined ||
    status === 429 ||
    status >= 500 ||
    name === "QdrantClientTimeoutError" ||
    name === "QdrantClientResourceExhaustedError";
  if (transient) {
    return new AppError("VECTOR_STORE_UNAVAILABLE", `the vector store (Qdrant) is unavailable: ${what} failed`, {
      httpStatus: 503,
      retryable: true,
      retryAfter: 5,
      cause: err,
    });
  }
  return new AppError("VECTOR_STORE_REJECTED", `the vector store (Qdrant) rejected ${what} (${status}): ${message.slice(0, 300)}`, {
    httpStatus: 502,
    cause: err,
  });
}

const isNotFound = (err: unknown) => (err as { status?: number }).status === 404;
const isRefusal = (err: unknown) => {
  const status = (err as { status?: number }).status;
  return status !== undefined && status >= 400 && status < 500 && status !== 429;
};

const hasTextVector = (info: Schemas["CollectionInfo"]) => info.config?.params?.sparse_vectors?.[TEXT_VECTOR] != null;

/**
 * A point as Qdrant stores it. With the keyword index: the dense vector unnamed (`""`), the BM25
 * terms as the sparse `text` vector (none for a text without terms) and the text in the payload.
 * Without it (a collection made before keyword search), neither. A point without payload text is
 * one `pointsWithoutText` reports once the collection can hold the index — so is one written with
 * an empty text, which is what a store's scan answers for a point it holds no text for (a copy).
 */
function toQdrantPoint(ref: CollectionRef, p: VectorPoint, withText: boolean): Schemas["PointStruct"] {
  const payload = { tenant_id: ref.tenantId, collection_id: ref.collectionId, document_id: p.documentId, chunk_index: p.chunkIndex, metadata: p.metadata };
  if (!withText) return { id: p.id, vector: p.vector, payload };
  if (p.text === "") return { id: p.id, vector: { "": p.vector }, payload };
  const terms = documentSparseVector(p.text);
  return { id: p.id, vector: terms.indices.length > 0 ? { "": p.vector, [TEXT_VECTOR]: terms } : { "": p.vector }, payload: { ...payload, text: p.text } };
}

/** Qdrant answers a point's vectors as a bare array when it has only the unnamed one, as a map by name otherwise. */
const denseVector = (vector: unknown): number[] => (Array.isArray(vector) ? vector : (vector as Record<string, number[]>)[""]!);

const toScoredPoint = (p: Schemas["ScoredPoint"]): ScoredPoint => ({
  id: String(p.id),
  documentId: String(p.payload?.document_id),
  chunkIndex: Number(p.payload?.chunk_index),
  score: p.score,
});

/**
 * Qdrant, the production vector store. One Qdrant collection per Quarry collection and vector
 * generation (`quarry_<collection id>[_v<n>]`): collections differ in embedding dimensions, and a
 * dropped or migrated collection is one cheap `DELETE`. Every point carries `tenant_id`,
 * `document_id`, `chunk_index`, the document's `metadata` and the chunk's `text`; every read and
 * delete is also filtered by tenant, so a wrong collection id can never reach another tenant's points.
 * Keyword search is BM25 as sparse vectors (`text`, with Qdrant's IDF modifier) tokenized here.
 */
export class QdrantVectorStore implements VectorStore {
  readonly kind = "qdrant" as const;
  private readonly client: QdrantClient;
  private readonly url: string;
  private readonly apiKey?: string;
  private readonly known = new Set<string>();
  /** Per Qdrant collection: whether it has the `text` sparse vector (see keywordSupport). */
  private readonly keyword = new Map<string, { promise: Promise<boolean | undefined>; value?: boolean; at: number }>();
  /** Collections whose points all had their text, and when that was counted. */
  private readonly textComplete = new Map<string, number>();
  private readonly snapshotTimeoutMs: number;
  private readonly snapshotPollMs: number;

  /**
   * `snapshotTimeoutMs` bounds how long `snapshot` waits for Qdrant to finish one (30 min by
   * default), polling its snapshot list every `snapshotPollMs` (2 s).
   */
  constructor(options: { url: string; apiKey?: string; timeoutMs?: number; snapshotTimeoutMs?: number; snapshotPollMs?: number }) {
    // One base address for the client and the raw snapshot calls: the client defaults the port to
    // 6333 and takes a path only as `prefix`, so derive both from the URL the same way.
    const u = new URL(options.url);
    const port = Number(u.port || 6333);
    const prefix = u.pathname.replace(/\/+$/, "") || undefined;
    this.url = `${u.protocol}//${u.hostname}:${port}${prefix ?? ""}`;
    this.apiKey = options.apiKey;
    const base = { host: u.hostname, port, https: u.protocol === "https:", prefix, apiKey: options.apiKey, checkCompatibility: false };
    this.client = new QdrantClient({ ...base, timeout: options.timeoutMs ?? 10_000 });
    this.snapshotTimeoutMs = options.snapshotTimeoutMs ?? 30 * 60_000;
    this.snapshotPollMs = options.snapshotPollMs ?? 2_000;
  }

  /** The Qdrant collection of a Quarry collection generation. */
  static collectionName(ref: CollectionRef): string {
    if (!/^[0-9a-f-]{36}$/i.test(ref.collectionId)) throw new Error(`collection id must be a uuid, got ${JSON.stringify(ref.collectionId)}`);
    return `${NAME_PREFIX}${ref.collectionId.toLowerCase().replaceAll("-", "")}${ref.version ? `_v${ref.version}` : ""}`;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw storeError(err, what);
    }
  }

  async ensureCollection(ref: CollectionRef, dimensions: number): Promise<void> {
    const name = QdrantVectorStore.collectionName(ref);
    if (this.known.has(name)) return;
    const created = await this.call("creating a collection", async () => {
      const { exists } = await this.client.collectionExists(name);
      let made = false;
      if (!exists) {
        try {
          await this.client.createCollection(name, {
            vectors: { size: dimensions, distance: "Cosine" },
            sparse_vectors: { [TEXT_VECTOR]: { modifier: "idf" } },
          });
          made = true;
        } catch (err) {
          // Another process created it first.
          if ((err as { status?: number }).status !== 409) throw err;
        }
      }
      // Indexes for what every request filters on; tenant_id is marked as the tenant key.
      await this.client.createPayloadIndex(name, { field_name: "tenant_id", field_schema: { type: "keyword", is_tenant: true }, wait: true });
      await this.client.createPayloadIndex(name, { field_name: "document_id", field_schema: "keyword", wait: true });
      await this.client.createPayloadIndex(name, { field_name: "chunk_index", field_schema: "integer", wait: true });
      return made;
    });
    this.forget(name);
    if (created) this.keyword.set(name, { promise: Promise.resolve(true), value: true, at: Date.now() });
    // A collection made before keyword search gets its keyword index here, where Qdrant can add it.
    else await this.keywordSupport(name);
    this.known.add(name);
  }

  /** Drops what this process knows about a collection's keyword index. */
  private forget(name: string): void {
    this.keyword.delete(name);
    this.textComplete.delete(name);
  }

  /**
   * Whether the collection has the `text` sparse vector (undefined: no such collection). One made
   * before keyword search gets it added where Qdrant can (1.18+: `PUT /collections/{name}/vectors/text`;
   * its points then lack text until `setTexts`). Read once per process; a "no" again after
   * UNSUPPORTED_RECHECK_MS, so an upgraded Qdrant or another process's addition is noticed.
   */
  private keywordSupport(name: string): Promise<boolean | undefined> {
    const cached = this.keyword.get(name);
    if (cached && !(cached.value === false && Date.now() - cached.at > UNSUPPORTED_RECHECK_MS)) return cached.promise;
    const entry: { promise: Promise<boolean | undefined>; value?: boolean; at: number } = { promise: this.readKeywordSupport(name), at: Date.now() };
    this.keyword.set(name, entry);
    const drop = () => this.keyword.get(name) === entry && this.keyword.delete(name);
    entry.promise.then((value) => (value === undefined ? drop() : (entry.value = value)), drop);
    return entry.promise;
  }

  private async readKeywordSupport(name: string): Promise<boolean | undefined> {
    const info = await this.collectionInfo(name);
    if (!info) return undefined;
    if (hasTextVector(info)) return true;
    try {
      await this.client.createVectorName(name, TEXT_VECTOR, { sparse: { modifier: "idf" } }, { wait: true });
      return true;
    } catch (err) {
      if (!isRefusal(err)) throw storeError(err, "adding the keyword index to a collection");
      // 404: a Qdrant before 1.18, which cannot. Refused otherwise — or another process added it first.
      const again = await this.collectionInfo(name);
      return again ? hasTextVector(again) : undefined;
    }
  }

  private async collectionInfo(name: string): Promise<Schemas["CollectionInfo"] | undefined> {
    try {
      return await this.client.getCollection(name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storeError(err, "reading a collection's configuration");
    }
  }

  async dropCollection(ref: CollectionRef): Promise<void> {
    const names =
      ref.version === undefined
        ? await this.generations(ref)
        : [QdrantVectorStore.collectionName(ref)];
    for (const name of names) {
      this.known.delete(name);
      this.forget(name);
      await this.call("dropping a collection", () => this.client.deleteCollection(name));
    }
  }

  private async generations(ref: CollectionRef): Promise<string[]> {
    const base = QdrantVectorStore.collectionName({ ...ref, version: 0 });
    const { collections } = await this.call("listing collections", () => this.client.getCollections());
    return collections.map((c) => c.name).filter((n) => n === base || new RegExp(`^${base}_v\\d+$`).test(n));
  }

  async upsert(ref: CollectionRef, points: VectorPoint[]): Promise<void> {
    const name = QdrantVectorStore.collectionName(ref);
    const put = (batch: VectorPoint[], withText: boolean) =>
      this.client.upsert(name, { wait: true, points: batch.map((p) => toQdrantPoint(ref, p, withText)) });
    for (let start = 0; start < points.length; start += UPSERT_BATCH) {
      const batch = points.slice(start, start + UPSERT_BATCH);
      const withText = (await this.keywordSupport(name)) !== false;
      try {
        await put(batch, withText);
      } catch (err) {
        // Another process may have restored a snapshot taken before keyword search: read the collection again.
        if (!withText || !isRefusal(err) || isNotFound(err)) throw storeError(err, "upserting points");
        this.forget(name);
        if ((await this.keywordSupport(name).catch(() => true)) !== false) throw storeError(err, "upserting points");
        await this.call("upserting points", () => put(batch, false));
      }
    }
  }

  async search(ref: CollectionRef, vector: number[], options: SearchOptions): Promise<ScoredPoint[]> {
    const name = QdrantVectorStore.collectionName(ref);
    try {
      const { points } = await this.client.query(name, {
        query: vector,
        filter: toQdrantFilter(ref.tenantId, options.filter, undefined, options.documentIds),
        limit: options.topK,
        with_payload: ["document_id", "chunk_index"],
        ...(options.scoreThreshold !== undefined ? { score_threshold: options.scoreThreshold } : {}),
      });
      return points.map(toScoredPoint);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw storeError(err, "searching");
    }
  }

  /** BM25 over the `text` sparse vector; a collection without one (see keywordReadiness) finds nothing. */
  async keywordSearch(ref: CollectionRef, query: string, options: KeywordSearchOptions): Promise<ScoredPoint[]> {
    const terms = querySparseVector(query);
    if (terms.indices.length === 0) return [];
    const name = QdrantVectorStore.collectionName(ref);
    if (!(await this.keywordSupport(name))) return [];
    try {
      const { points } = await this.client.query(name, {
        query: terms,
        using: TEXT_VECTOR,
        filter: toQdrantFilter(ref.tenantId, options.filter, undefined, options.documentIds),
        limit: options.topK,
        with_payload: ["document_id", "chunk_index"],
      });
      return points.map(toScoredPoint);
    } catch (err) {
      if (isNotFound(err)) return [];
      // Restored meanwhile from a snapshot taken before keyword search? Then it has no `text` vector.
      if (isRefusal(err)) {
        this.forget(name);
        if ((await this.keywordSupport(name).catch(() => true)) === false) return [];
      }
      throw storeError(err, "searching by keywords");
    }
  }

  async keywordReadiness(ref: CollectionRef): Promise<KeywordReadiness> {
    const name = QdrantVectorStore.collectionName(ref);
    const supported = await this.keywordSupport(name);
    if (supported === false) return "unsupported";
    if (supported === undefined || Date.now() - (this.textComplete.get(name) ?? -Infinity) < READY_RECHECK_MS) return "ready";
    let missing: number;
    try {
      missing = (await this.client.count(name, { exact: true, filter: withoutText(ref.tenantId) })).count;
    } catch (err) {
      if (isNotFound(err)) return "ready";
      throw storeError(err, "counting points without text");
    }
    if (missing > 0) return { missing };
    this.textComplete.set(name, Date.now());
    return "ready";
  }

  async pointsWithoutText(ref: CollectionRef, limit: number): Promise<Array<{ id: string; documentId: string; chunkIndex: number }>> {
    const name = QdrantVectorStore.collectionName(ref);
    if ((await this.keywordSupport(name)) !== true) return [];
    try {
      const page = await this.client.scroll(name, { filter: withoutText(ref.tenantId), limit, with_payload: ["document_id", "chunk_index"], with_vector: false });
      return page.points.map((p) => ({ id: String(p.id), documentId: String(p.payload?.document_id), chunkIndex: Number(p.payload?.chunk_index) }));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw storeError(err, "scrolling points without text");
    }
  }

  /** The BM25 terms (update-vectors keeps the dense vector) and then the payload text, which marks a point done. */
  async setTexts(ref: CollectionRef, texts: Array<{ id: string; text: string }>): Promise<void> {
    if (texts.length === 0) return;
    const name = QdrantVectorStore.collectionName(ref);
    const supported = await this.keywordSupport(name);
    if (supported === undefined) return;
    if (!supported) {
      throw new AppError(
        "KEYWORD_SEARCH_UNAVAILABLE",
        `the Qdrant collection ${name} was made before keyword search and this Qdrant cannot add a sparse vector to it (that needs Qdrant 1.18): re-embed the collection (POST /v1/collections/:id/reembed)`,
        { httpStatus: 409 },
      );
    }
    for (let start = 0; start < texts.length; start += REWRITE_BATCH) await this.setTextBatch(ref, name, texts.slice(start, start + REWRITE_BATCH), true);
  }

  private async setTextBatch(ref: CollectionRef, name: string, texts: Array<{ id: string; text: string }>, again: boolean): Promise<void> {
    // Only points of the tenant that exist and have no text yet: Qdrant refuses to update a missing
    // point, and the port ignores them; a point rewritten meanwhile keeps its new text.
    let page: Schemas["ScrollResult"];
    try {
      const filter = { must: [...conditions(toQdrantFilter(ref.tenantId)), { has_id: texts.map((t) => t.id) }, { is_empty: { key: "text" } }] };
      page = await this.client.scroll(name, { filter, limit: texts.length, with_payload: false, with_vector: false });
    } catch (err) {
      if (isNotFound(err)) return;
      throw storeError(err, "reading points");
    }
    const existing = new Set(page.points.map((p) => String(p.id).toLowerCase()));
    const present = texts.filter((t) => existing.has(t.id.toLowerCase()));
    if (present.length === 0) return;
    const vectors = present.map((t) => ({ id: t.id, vector: { [TEXT_VECTOR]: documentSparseVector(t.text) } })).filter((p) => p.vector[TEXT_VECTOR].indices.length > 0);
    const operations: Schemas["UpdateOperation"][] = [
      ...(vectors.length > 0 ? [{ update_vectors: { points: vectors } }] : []),
      ...present.map((t) => ({ set_payload: { payload: { text: t.text }, points: [t.id] } })),
    ];
    try {
      await this.client.batchUpdate(name, { wait: true, operations });
    } catch (err) {
      // A point deleted since it was read: read them again, once.
      if (isNotFound(err) && again) return this.setTextBatch(ref, name, texts, false);
      throw storeError(err, "setting points' text");
    }
  }

  async setDocumentMetadata(ref: CollectionRef, documentId: string, metadata: Record<string, unknown>): Promise<void> {
    const name = QdrantVectorStore.collectionName(ref);
    try {
      // set_payload replaces the `metadata` key as a whole on every point of the document.
      await this.client.setPayload(name, { wait: true, payload: { metadata }, filter: toQdrantFilter(ref.tenantId, undefined, documentId) });
    } catch (err) {
      if (!isNotFound(err)) throw storeError(err, "setting a document's metadata");
    }
  }

  async deleteDocument(ref: CollectionRef, documentId: string): Promise<void> {
    const name = QdrantVectorStore.collectionName(ref);
    try {
      await this.client.delete(name, { wait: true, filter: toQdrantFilter(ref.tenantId, undefined, documentId) });
    } catch (err) {
      if (!isNotFound(err)) throw storeError(err, "deleting a document's points");
    }
  }

  async count(ref: CollectionRef, documentId?: string): Promise<number> {
    const name = QdrantVectorStore.collectionName(ref);
    try {
      return (await this.client.count(name, { exact: true, filter: toQdrantFilter(ref.tenantId, undefined, documentId) })).count;
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw storeError(err, "counting points");
    }
  }

  async *scan(ref: CollectionRef, batchSize = 1000): AsyncIterable<VectorPoint[]> {
    const name = QdrantVectorStore.collectionName(ref);
    let offset: Schemas["ExtendedPointId"] | undefined;
    do {
      let page: Schemas["ScrollResult"];
      try {
        page = await this.client.scroll(name, { filter: toQdrantFilter(ref.tenantId), limit: batchSize, with_vector: true, with_payload: true, ...(offset !== undefined ? { offset } : {}) });
      } catch (err) {
        if (isNotFound(err)) return;
        throw storeError(err, "scrolling points");
      }
      const points = page.points.map((p) => ({
        id: String(p.id),
        vector: denseVector(p.vector),
        documentId: String(p.payload?.document_id),
        chunkIndex: Number(p.payload?.chunk_index),
        metadata: (p.payload?.metadata ?? {}) as Record<string, unknown>,
        text: typeof p.payload?.text === "string" ? p.payload.text : "",
      }));
      if (points.length > 0) yield points;
      offset = (page.next_page_offset as Schemas["ExtendedPointId"] | null | undefined) ?? undefined;
    } while (offset !== undefined && offset !== null);
  }

  /**
   * Creates a Qdrant collection snapshot without waiting on the request (large collections would
   * time out), polls the snapshot list until it appears, downloads it into `dir` while checking
   * the sha256 Qdrant reports, and removes it from the server whatever happened.
   */
  async snapshot(ref: CollectionRef, dir: string, options: { documents?: ReadonlySet<string> } = {}): Promise<VectorSnapshot> {
    const name = QdrantVectorStore.collectionName(ref);
    await mkdir(dir, { recursive: true });
    const before = new Set((await this.call("listing snapshots", () => this.client.listSnapshots(name))).map((s) => s.name));
    // Not through the client: it takes Qdrant's "202 Accepted" for an error.
    const res = await this.fetch("creating a snapshot", `/collections/${name}/snapshots?wait=false`, { method: "POST" });
    // `result` is null or `true` (accepted), or the description when Qdrant finished at once.
    const created = ((await res.json().catch(() => ({}))) as { result?: { name?: unknown } | boolean | null }).result;
    let snapshotName = typeof created === "object" && typeof created?.name === "string" ? created.name : undefined;
    try {
      const description = await this.awaitSnapshot(name, before, snapshotName);
      snapshotName = description.name;
      await this.download(name, description, path.join(dir, SNAPSHOT_FILE));
    } finally {
      // Never leave snapshot files behind on the server, whatever happened to the download.
      if (snapshotName) await this.client.deleteSnapshot(name, snapshotName, { wait: true }).catch(() => undefined);
    }
    const documents = await this.countDocuments(ref, options.documents);
    let points = 0;
    for (const n of documents.values()) points += n;
    return { points, documents };
  }

  /** Polls the collection's snapshots until ours is listed (Qdrant lists only finished ones). */
  private async awaitSnapshot(name: string, before: ReadonlySet<string>, known?: string): Promise<SnapshotDescription> {
    const deadline = Date.now() + this.snapshotTimeoutMs;
    let lookedAgain = false;
    for (;;) {
      const list = await this.call("listing snapshots", () => this.client.listSnapshots(name));
      const fresh = list.filter((s) => (known ? s.name === known : !before.has(s.name)));
      if (fresh.length > 1) {
        // Another snapshot of the same collection finished meanwhile; either may be older than our request.
        throw new AppError("VECTOR_STORE_UNAVAILABLE", `several new snapshots of ${name} appeared at once (${fresh.map((s) => s.name).join(", ")}); is another backup running?`, { httpStatus: 503, retryable: true, retryAfter: 60 });
      }
      const found = fresh[0];
      if (found && (found.checksum || lookedAgain || Date.now() >= deadline)) return found;
      if (found) {
        // Newer Qdrant promotes the checksum file just after the snapshot file: look once more.
        [known, lookedAgain] = [found.name, true];
      } else if (Date.now() >= deadline) {
        // A snapshot that finishes later stays on the server: without a name there is nothing to delete.
        throw new AppError("VECTOR_STORE_UNAVAILABLE", `the Qdrant snapshot of ${name} did not finish within ${Math.round(this.snapshotTimeoutMs / 1000)} s`, { httpStatus: 503, retryable: true, retryAfter: 60 });
      }
      await sleep(this.snapshotPollMs);
    }
  }

  private async download(name: string, description: SnapshotDescription, file: string): Promise<void> {
    const res = await this.fetch("downloading a snapshot", `/collections/${name}/snapshots/${encodeURIComponent(description.name)}`, {});
    if (!res.body) throw storeError(new Error("no body"), "downloading a snapshot");
    const hash = createHash("sha256");
    await this.call("downloading a snapshot", () =>
      pipeline(
        Readable.fromWeb(res.body as WebReadableStream),
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(file),
      ),
    );
    const actual = hash.digest("hex");
    // Older Qdrant versions report no checksum: nothing to compare with, the download is taken as is.
    if (description.checksum && description.checksum.toLowerCase() !== actual) {
      await rm(file, { force: true });
      throw new AppError(
        "VECTOR_STORE_UNAVAILABLE",
        `the Qdrant snapshot ${description.name} of ${name} was damaged in transfer: sha256 ${actual}, Qdrant reported ${description.checksum}`,
        { httpStatus: 503, retryable: true, retryAfter: 5 },
      );
    }
  }

  /**
   * Uploads the snapshot file in `dir` into the collection, replacing its points, then makes the
   * payloads name this collection and, with `documentIds`, renames documents and point ids.
   */
  async restore(ref: CollectionRef, dir: string, options: { documentIds?: ReadonlyMap<string, string> } = {}): Promise<void> {
    const name = QdrantVectorStore.collectionName(ref);
    const file = path.join(dir, SNAPSHOT_FILE);
    if (!existsSync(file)) throw new Error(`no Qdrant snapshot (${SNAPSHOT_FILE}) in ${dir}`);
    const form = new FormData();
    form.append("snapshot", await openAsBlob(file), SNAPSHOT_FILE);
    this.known.delete(name);
    // The collection takes the snapshot's configuration: one taken before keyword search has no `text` vector.
    this.forget(name);
    await this.fetch("uploading a snapshot", `/collections/${name}/snapshots/upload?priority=snapshot&wait=true`, { method: "POST", body: form });
    this.known.add(name);
    if (options.documentIds) return this.renameDocuments(ref, name, options.documentIds);
    // The snapshot may come from another collection: its points still name that one.
    await this.call("restoring a snapshot", () =>
      this.client.setPayload(name, { wait: true, payload: { collection_id: ref.collectionId }, filter: { must_not: [{ key: "collection_id", match: { value: ref.collectionId } }] } }),
    );
  }

  /**
   * Rewrites every restored point to its new document id and point id; points of documents the
   * map does not name are removed (a Qdrant snapshot holds the whole collection). The ids are
   * listed first, so the rewritten points are never read again. Vectors (the sparse `text` one
   * too) and payload (the text too) are written back as Qdrant answered them.
   */
  private async renameDocuments(ref: CollectionRef, name: string, documentIds: ReadonlyMap<string, string>): Promise<void> {
    const ids: Schemas["ExtendedPointId"][] = [];
    for await (const page of this.pages(name, ref, false)) ids.push(...page.map((p) => p.id));
    for (let start = 0; start < ids.length; start += REWRITE_BATCH) {
      const batch = ids.slice(start, start + REWRITE_BATCH);
      const points = await this.call("reading restored points", () => this.client.retrieve(name, { ids: batch, with_payload: true, with_vector: true }));
      const rewritten: Schemas["PointStruct"][] = [];
      for (const p of points) {
        const documentId = documentIds.get(String(p.payload?.document_id));
        if (!documentId) continue;
        rewritten.push({
          id: pointId(documentId, Number(p.payload?.chunk_index)),
          vector: p.vector as Schemas["VectorStruct"],
          payload: { ...p.payload, collection_id: ref.collectionId, document_id: documentId },
        });
      }
      if (rewritten.length > 0) await this.call("rewriting restored points", () => this.client.upsert(name, { wait: true, points: rewritten }));
      const kept = new Set(rewritten.map((p) => String(p.id)));
      const doomed = batch.filter((id) => !kept.has(String(id)));
      if (doomed.length > 0) await this.call("rewriting restored points", () => this.client.delete(name, { wait: true, points: doomed }));
    }
  }

  /** Points per document in a generation (documents without points are absent). */
  async documentCounts(ref: CollectionRef): Promise<Map<string, number>> {
    return this.countDocuments(ref);
  }

  private async countDocuments(ref: CollectionRef, only?: ReadonlySet<string>): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for await (const page of this.pages(QdrantVectorStore.collectionName(ref), ref, true)) {
      for (const p of page) {
        const id = String(p.payload?.document_id);
        if (!only || only.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }
    return counts;
  }

  /** The tenant's points, a page at a time, without vectors: ids only, or with `document_id`. A missing collection has none. */
  private async *pages(name: string, ref: CollectionRef, withDocument: boolean): AsyncIterable<Schemas["Record"][]> {
    let offset: Schemas["ExtendedPointId"] | undefined;
    do {
      let page: Schemas["ScrollResult"];
      try {
        page = await this.client.scroll(name, {
          filter: toQdrantFilter(ref.tenantId),
          limit: SCROLL_PAGE,
          with_payload: withDocument ? ["document_id"] : false,
          with_vector: false,
          ...(offset !== undefined ? { offset } : {}),
        });
      } catch (err) {
        if (isNotFound(err)) return;
        throw storeError(err, "scrolling points");
      }
      if (page.points.length > 0) yield page.points;
      offset = (page.next_page_offset as Schemas["ExtendedPointId"] | null | undefined) ?? undefined;
    } while (offset !== undefined);
  }

  /** A raw request, for what the client cannot do (202 answers, file transfers); fails like the client calls. */
  private async fetch(what: string, pathAndQuery: string, init: RequestInit): Promise<Response> {
    const res = await this.call(what, () => fetch(`${this.url}${pathAndQuery}`, { ...init, headers: this.apiKey ? { "api-key": this.apiKey } : {} }));
    if (!res.ok) throw storeError(Object.assign(new Error((await res.text().catch(() => "")) || `status ${res.status}`), { status: res.status }), what);
    return res;
  }

  /** Qdrant compacts and indexes by itself (its optimizers); nothing to do. */
  async optimize(): Promise<void> {}

  async ping(): Promise<void> {
    await this.call("a health check", () => this.client.getCollections());
  }

  async close(): Promise<void> {
    this.known.clear();
    this.keyword.clear();
    this.textComplete.clear();
  }
}
