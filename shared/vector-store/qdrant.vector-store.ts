import { createWriteStream, openAsBlob } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { QdrantClient, type Schemas } from "@qdrant/js-client-rest";
import { AppError } from "../errors/app-error.ts";
import { toQdrantFilter } from "./qdrant-filter.ts";
import type { CollectionRef, ScoredPoint, SearchOptions, VectorPoint, VectorStore } from "./vector-store.ts";

const UPSERT_BATCH = 256;
const NAME_PREFIX = "quarry_";

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

/**
 * Qdrant, the production vector store. One Qdrant collection per Quarry collection and vector
 * generation (`quarry_<collection id>[_v<n>]`): collections differ in embedding dimensions, and a
 * dropped or migrated collection is one cheap `DELETE`. Every point carries `tenant_id`,
 * `document_id`, `chunk_index` and the document's `metadata`; every read and delete is also
 * filtered by tenant, so a wrong collection id can never reach another tenant's points.
 */
export class QdrantVectorStore implements VectorStore {
  readonly kind = "qdrant" as const;
  private readonly client: QdrantClient;
  /** For snapshots, which take as long as the collection is large. */
  private readonly slowClient: QdrantClient;
  private readonly url: string;
  private readonly apiKey?: string;
  private readonly known = new Set<string>();

  constructor(options: { url: string; apiKey?: string; timeoutMs?: number }) {
    // One base address for the client and the raw snapshot calls: the client defaults the port to
    // 6333 and takes a path only as `prefix`, so derive both from the URL the same way.
    const u = new URL(options.url);
    const port = Number(u.port || 6333);
    const prefix = u.pathname.replace(/\/+$/, "") || undefined;
    this.url = `${u.protocol}//${u.hostname}:${port}${prefix ?? ""}`;
    this.apiKey = options.apiKey;
    const base = { host: u.hostname, port, https: u.protocol === "https:", prefix, apiKey: options.apiKey, checkCompatibility: false };
    this.client = new QdrantClient({ ...base, timeout: options.timeoutMs ?? 10_000 });
    this.slowClient = new QdrantClient({ ...base, timeout: 30 * 60_000 });
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
    await this.call("creating a collection", async () => {
      const { exists } = await this.client.collectionExists(name);
      if (!exists) {
        try {
          await this.client.createCollection(name, { vectors: { size: dimensions, distance: "Cosine" } });
        } catch (err) {
          // Another process created it first.
          if ((err as { status?: number }).status !== 409) throw err;
        }
      }
      // Indexes for what every request filters on; tenant_id is marked as the tenant key.
      await this.client.createPayloadIndex(name, { field_name: "tenant_id", field_schema: { type: "keyword", is_tenant: true }, wait: true });
      await this.client.createPayloadIndex(name, { field_name: "document_id", field_schema: "keyword", wait: true });
      await this.client.createPayloadIndex(name, { field_name: "chunk_index", field_schema: "integer", wait: true });
    });
    this.known.add(name);
  }

  async dropCollection(ref: CollectionRef): Promise<void> {
    const names =
      ref.version === undefined
        ? await this.generations(ref)
        : [QdrantVectorStore.collectionName(ref)];
    for (const name of names) {
      this.known.delete(name);
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
    for (let start = 0; start < points.length; start += UPSERT_BATCH) {
      const batch = points.slice(start, start + UPSERT_BATCH).map(
        (p): Schemas["PointStruct"] => ({
          id: p.id,
          vector: p.vector,
          payload: { tenant_id: ref.tenantId, collection_id: ref.collectionId, document_id: p.documentId, chunk_index: p.chunkIndex, metadata: p.metadata },
        }),
      );
      await this.call("upserting points", () => this.client.upsert(name, { wait: true, points: batch }));
    }
  }

  async search(ref: CollectionRef, vector: number[], options: SearchOptions): Promise<ScoredPoint[]> {
    const name = QdrantVectorStore.collectionName(ref);
    try {
      const { points } = await this.client.query(name, {
        query: vector,
        filter: toQdrantFilter(ref.tenantId, options.filter),
        limit: options.topK,
        with_payload: ["document_id", "chunk_index"],
        ...(options.scoreThreshold !== undefined ? { score_threshold: options.scoreThreshold } : {}),
      });
      return points.map((p) => ({
        id: String(p.id),
        documentId: String(p.payload?.document_id),
        chunkIndex: Number(p.payload?.chunk_index),
        score: p.score,
      }));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw storeError(err, "searching");
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
        vector: p.vector as number[],
        documentId: String(p.payload?.document_id),
        chunkIndex: Number(p.payload?.chunk_index),
        metadata: (p.payload?.metadata ?? {}) as Record<string, unknown>,
      }));
      if (points.length > 0) yield points;
      offset = (page.next_page_offset as Schemas["ExtendedPointId"] | null | undefined) ?? undefined;
    } while (offset !== undefined && offset !== null);
  }

  /** Creates a Qdrant collection snapshot, downloads it into `dir`, and removes it from the server. */
  async snapshot(ref: CollectionRef, dir: string): Promise<{ points: number }> {
    const name = QdrantVectorStore.collectionName(ref);
    await mkdir(dir, { recursive: true });
    const created = await this.call("creating a snapshot", () => this.slowClient.createSnapshot(name, { wait: true }));
    if (!created) throw storeError(new Error("no snapshot description returned"), "creating a snapshot");
    try {
      const res = await this.call("downloading a snapshot", () =>
        fetch(`${this.url}/collections/${name}/snapshots/${encodeURIComponent(created.name)}`, { headers: this.headers() }),
      );
      if (!res.ok || !res.body) throw storeError(Object.assign(new Error(`status ${res.status}`), { status: res.status }), "downloading a snapshot");
      await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(path.join(dir, `${name}.snapshot`)));
    } finally {
      // Never leave snapshot files behind on the server, whatever happened to the download.
      await this.client.deleteSnapshot(name, created.name, { wait: true }).catch(() => undefined);
    }
    return { points: await this.count(ref) };
  }

  /** Uploads the snapshot file in `dir` into the collection, replacing its points. */
  async restore(ref: CollectionRef, dir: string): Promise<void> {
    const name = QdrantVectorStore.collectionName(ref);
    const file = (await readdir(dir)).find((f) => f === `${name}.snapshot`);
    if (!file) throw new Error(`no snapshot of ${name} in ${dir}`);
    const form = new FormData();
    form.append("snapshot", await openAsBlob(path.join(dir, file)), file);
    const res = await this.call("uploading a snapshot", () =>
      fetch(`${this.url}/collections/${name}/snapshots/upload?priority=snapshot&wait=true`, { method: "POST", headers: this.headers(), body: form }),
    );
    if (!res.ok) throw storeError(Object.assign(new Error(await res.text()), { status: res.status }), "restoring a snapshot");
    this.known.add(name);
  }

  private headers(): Record<string, string> {
    return this.apiKey ? { "api-key": this.apiKey } : {};
  }

  /** Qdrant compacts and indexes by itself (its optimizers); nothing to do. */
  async optimize(): Promise<void> {}

  async ping(): Promise<void> {
    await this.call("a health check", () => this.client.getCollections());
  }

  async close(): Promise<void> {
    this.known.clear();
  }
}
