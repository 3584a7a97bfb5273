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
import { toQdrantFilter } from "./qdrant-filter.ts";
import type { CollectionRef, ScoredPoint, SearchOptions, VectorPoint, VectorSnapshot, VectorStore } from "./vector-store.ts";

const UPSERT_BATCH = 256;
const REWRITE_BATCH = 256;
const SCROLL_PAGE = 1000;
const NAME_PREFIX = "quarry_";
/** The snapshot's file in a snapshot directory; independent of the collection, so any generation can load it. */
const SNAPSHOT_FILE = "collection.snapshot";

type SnapshotDescription = Schemas["SnapshotDescription"];

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
  private readonly url: string;
  private readonly apiKey?: string;
  private readonly known = new Set<string>();
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
   * listed first, so the rewritten points are never read again.
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
          vector: p.vector as number[],
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
  }
}
