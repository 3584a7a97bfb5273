import type { Deps } from "../deps.ts";
import { listScope, tombstone } from "../db/openai-list.ts";
import type { StoreRef, VectorStoreRow } from "../db/vector-stores.repository.ts";
import { AppError } from "../errors/app-error.ts";
import { matchesAttributes, type AttributeFilter } from "../openai-compat/filters.ts";
import { newVectorStoreId } from "../openai-compat/ids.ts";
import { vectorStoreExpiresAt } from "../openai-compat/presenters.ts";
import { createCollection, getCollection, requestCollectionDeletion } from "./collections.ts";
import { retrieve, rerankHits, wantsRerank, type SearchHit } from "./search.ts";
import { attachFiles, type AttachInput } from "./vector-store-files.ts";

export const vectorStoreNotFound = (id: string) =>
  new AppError("NOT_FOUND", `No such vector store: ${id}`, { httpStatus: 404, details: [{ field: "vector_store_id", message: "not found" }] });

export interface VectorStoreInput {
  name?: string;
  description?: string;
  metadata?: Record<string, string>;
  expiresAfterDays?: number;
  files: AttachInput[];
}

/**
 * Creates a vector store: a collection named after the store's id (so it is also reachable through
 * /v1/collections), with the deployment's embedding, and attaches `files` (checked first: an
 * unknown file id creates nothing).
 */
export async function createVectorStore(deps: Deps, tenantId: string, input: VectorStoreInput): Promise<VectorStoreRow> {
  const fileIds = input.files.map((f) => f.fileId);
  const found = new Set((await deps.files.getMany(tenantId, fileIds)).map((f) => f.id));
  const missing = fileIds.find((id) => !found.has(id));
  if (missing) throw new AppError("NOT_FOUND", `No such File object: ${missing}`, { httpStatus: 404, details: [{ field: "file_ids", message: "not found" }] });
  const id = newVectorStoreId();
  const collection = await createCollection(deps, tenantId, { name: id });
  await deps.vectorStores.insert({
    id,
    tenantId,
    collectionId: collection.id,
    name: input.name ?? "",
    description: input.description ?? null,
    metadata: input.metadata ?? {},
    expiresAfterDays: input.expiresAfterDays ?? null,
  });
  const store = await getVectorStore(deps, tenantId, id);
  if (input.files.length === 0) return store;
  try {
    await attachFiles(deps, store, input.files);
  } catch (err) {
    // A create that answers an error leaves no store behind (a retry would make a second one).
    await requestCollectionDeletion(deps, tenantId, collection.id).catch((cleanup: unknown) =>
      deps.logger.warn({ err: cleanup, vectorStoreId: id }, "could not delete a vector store whose files could not be attached"),
    );
    throw err;
  }
  return getVectorStore(deps, tenantId, id);
}

export async function getVectorStore(deps: Pick<Deps, "vectorStores">, tenantId: string, id: string): Promise<VectorStoreRow> {
  const store = await deps.vectorStores.get(tenantId, id);
  if (!store) throw vectorStoreNotFound(id);
  return store;
}

/** A store without its counts (the routes under a store). */
export async function getVectorStoreRef(deps: Pick<Deps, "vectorStores">, tenantId: string, id: string): Promise<StoreRef> {
  const store = await deps.vectorStores.getRef(tenantId, id);
  if (!store) throw vectorStoreNotFound(id);
  return store;
}

/** A store that may still be written to and searched: not expired. */
export async function getActiveVectorStore(deps: Pick<Deps, "vectorStores">, tenantId: string, id: string): Promise<StoreRef> {
  const store = await getVectorStoreRef(deps, tenantId, id);
  const expiresAt = vectorStoreExpiresAt(store);
  if (expiresAt && expiresAt <= new Date()) {
    throw new AppError("VECTOR_STORE_EXPIRED", `the vector store ${id} expired at ${expiresAt.toISOString()}; extend its expires_after or create another`, { httpStatus: 400 });
  }
  return store;
}

export async function updateVectorStore(
  deps: Deps,
  tenantId: string,
  id: string,
  changes: { name?: string; metadata?: Record<string, string>; expiresAfterDays?: number | null },
): Promise<VectorStoreRow> {
  await getVectorStore(deps, tenantId, id);
  await deps.vectorStores.update(id, changes);
  // A new expiry counts from now, so a store is not expired by the update that sets it.
  if (changes.expiresAfterDays !== undefined) await deps.vectorStores.touch(id);
  return getVectorStore(deps, tenantId, id);
}

/** Hides the store at once; its collection's deletion job removes the vectors and records. The files stay. */
export async function deleteVectorStore(deps: Deps, tenantId: string, id: string): Promise<void> {
  const store = await getVectorStore(deps, tenantId, id);
  await requestCollectionDeletion(deps, tenantId, store.collection_id);
  await tombstone(deps.db, listScope.vectorStores(tenantId), [store]);
}

export interface VectorStoreSearch {
  queries: string[];
  filter?: AttributeFilter;
  maxResults: number;
  scoreThreshold?: number;
  /** `none`: the order of the vector search; otherwise the reranker's, when one is configured. */
  ranker: "none" | "auto" | "default-2024-11-15";
}

export interface VectorStoreHit {
  file_id: string;
  filename: string;
  score: number;
  attributes: Record<string, unknown>;
  text: string;
}

/**
 * Searches a store's completed files by meaning (vector search; scores are cosine similarities
 * clamped to 0–1). Several queries are searched apart and merged, each chunk keeping its best
 * score. Filters are evaluated on the files' attributes in Postgres, and the search is restricted
 * to the files that match.
 */
export async function searchVectorStore(deps: Deps, tenantId: string, id: string, search: VectorStoreSearch): Promise<VectorStoreHit[]> {
  const store = await getActiveVectorStore(deps, tenantId, id);
  const collection = await getCollection(deps, tenantId, store.collection_id);
  let documentIds: string[] | undefined;
  if (search.filter) {
    const filter = search.filter;
    documentIds = (await deps.vectorStores.searchableFiles(collection.id)).filter((f) => matchesAttributes(filter, f.metadata)).map((f) => f.id);
  }
  await deps.vectorStores.touch(store.id);
  if (documentIds?.length === 0) return [];
  const rerank = search.ranker !== "none" && wantsRerank(deps, undefined);
  // Without a filter the search is not restricted to the store's completed files: chunks of files
  // still being ingested (or of documents uploaded through /v1/collections) drop out after it, so
  // it asks for more than it returns.
  const wanted = documentIds ? search.maxResults : search.maxResults * 2 + 10;
  const topK = rerank ? Math.max(wanted, deps.config.RERANK_CANDIDATES) : wanted;
  const found = await Promise.all(search.queries.map((query) => retrieve(deps, collection, { query, topK, mode: "vector", documentIds })));
  const best = new Map<string, SearchHit>();
  for (const hit of found.flatMap((f) => f.hits)) {
    const key = `${hit.document_id}:${hit.chunk_index}`;
    if ((best.get(key)?.score ?? -Infinity) < hit.score) best.set(key, hit);
  }
  const candidates = [...best.values()].sort((a, b) => b.score - a.score);
  // Only chunks of files attached through this API have a file id and name; the rest drop out
  // before the reranker spends its budget on them.
  const names = await deps.vectorStores.fileNames([...new Set(candidates.map((h) => h.document_id))]);
  let hits = candidates.filter((h) => names.has(h.document_id));
  if (rerank) hits = (await rerankHits(deps, search.queries.join("\n"), hits, search.maxResults)).hits;
  return hits
    .map((hit) => ({ hit, score: Math.min(1, Math.max(0, hit.score)), file: names.get(hit.document_id)! }))
    .filter(({ score }) => search.scoreThreshold === undefined || score >= search.scoreThreshold)
    .slice(0, search.maxResults)
    .map(({ hit, score, file }) => ({ file_id: file.fileId, filename: file.filename, score, attributes: hit.metadata, text: hit.text }));
}
