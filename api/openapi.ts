import { z } from "zod";
import { backup, backupAccepted, backupCollection, backupList } from "../shared/http-schemas/backup.schema.ts";
import { chatAnswer, chatDeltaEvent, chatMessage, chatSession, chatSource, chatSourcesEvent, chatUsage } from "../shared/http-schemas/chat.schema.ts";
import { collection, embeddingSpec } from "../shared/http-schemas/collection.schema.ts";
import { failure, page } from "../shared/http-schemas/common.schema.ts";
import { document, documentAccepted } from "../shared/http-schemas/document.schema.ts";
import { embeddingsResponse } from "../shared/http-schemas/embeddings.schema.ts";
import { errorResponse } from "../shared/http-schemas/error.schema.ts";
import { health, readiness } from "../shared/http-schemas/health.schema.ts";
import { job, jobAccepted, jobStreamTimeout } from "../shared/http-schemas/job.schema.ts";
import {
  fileCounts,
  openAiError,
  openAiFile,
  openAiFileDeleted,
  openAiList,
  vectorStore,
  vectorStoreDeleted,
  vectorStoreFile,
  vectorStoreFileBatch,
  vectorStoreFileContent,
  vectorStoreFileDeleted,
  vectorStoreSearchResult,
  vectorStoreSearchResults,
} from "../shared/http-schemas/openai.schema.ts";
import { searchHit, searchResults } from "../shared/http-schemas/search.schema.ts";
import { workflow, workflowRun, workflowRunAccepted, workflowRunStep, workflowSigningSecret, workflowStep } from "../shared/http-schemas/workflow.schema.ts";
import { PARSEABLE_MIME_TYPES } from "../shared/parsing/parsers.ts";
import { createBackupBody, restoreBody } from "./routes/backups.routes.ts";
import { chatBody } from "./routes/chat.routes.ts";
import { createBody, deleteCollectionQuery, reembedBody } from "./routes/collections.routes.ts";
import { deleteDocumentQuery, documentFields, listDocumentsQuery, textBody, urlBody } from "./routes/documents.routes.ts";
import { embeddingsBody } from "./routes/embeddings.routes.ts";
import { listJobsQuery } from "./routes/jobs.routes.ts";
import {
  attachFileBody,
  createFileBatchBody,
  createVectorStoreBody,
  fileListQuery,
  fileUploadFields,
  listQuery as openAiListQuery,
  searchBody as vectorStoreSearchBody,
  updateVectorStoreBody,
  updateVectorStoreFileBody,
  vectorStoreFileListQuery,
} from "./routes/openai.schemas.ts";
import { listQuery } from "./routes/params.ts";
import { searchBody } from "./routes/search.routes.ts";
import { runBody, workflowBody, workflowQuery } from "./routes/workflows.routes.ts";

type Json = Record<string, unknown>;

const withoutDialect = ({ $schema: _schema, $id: _id, ...rest }: Json): Json => rest;

/** Request schemas come from the zod schemas the routes validate with, so they cannot drift. */
const request = (schema: z.ZodType): Json => withoutDialect(z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json);

/**
 * Response schemas are the zod schemas the presenters are typed with (shared/http-schemas), each
 * published as `components/schemas/<name>`; a schema used inside another becomes a `$ref`.
 */
const components = {
  Error: errorResponse,
  Failure: failure,
  Embedding: embeddingSpec,
  Collection: collection,
  CollectionList: page(collection),
  Document: document,
  DocumentList: page(document),
  DocumentAccepted: documentAccepted,
  Job: job,
  JobList: page(job),
  JobAccepted: jobAccepted,
  JobStreamTimeout: jobStreamTimeout,
  SearchHit: searchHit,
  SearchResults: searchResults,
  ChatSource: chatSource,
  ChatUsage: chatUsage,
  ChatAnswer: chatAnswer,
  ChatMessage: chatMessage,
  ChatSession: chatSession,
  ChatSourcesEvent: chatSourcesEvent,
  ChatDeltaEvent: chatDeltaEvent,
  Embeddings: embeddingsResponse,
  Health: health,
  Readiness: readiness,
  BackupCollection: backupCollection,
  Backup: backup,
  BackupList: backupList,
  BackupAccepted: backupAccepted,
  WorkflowStep: workflowStep,
  Workflow: workflow,
  WorkflowList: page(workflow),
  WorkflowRunStep: workflowRunStep,
  WorkflowRun: workflowRun,
  WorkflowRunList: page(workflowRun),
  WorkflowRunAccepted: workflowRunAccepted,
  WorkflowSigningSecret: workflowSigningSecret,
  OpenAIError: openAiError,
  OpenAIFile: openAiFile,
  OpenAIFileList: openAiList(openAiFile),
  OpenAIFileDeleted: openAiFileDeleted,
  VectorStoreFileCounts: fileCounts,
  VectorStore: vectorStore,
  VectorStoreList: openAiList(vectorStore),
  VectorStoreDeleted: vectorStoreDeleted,
  VectorStoreSearchResult: vectorStoreSearchResult,
  VectorStoreSearchResults: vectorStoreSearchResults,
  VectorStoreFile: vectorStoreFile,
  VectorStoreFileList: openAiList(vectorStoreFile),
  VectorStoreFileDeleted: vectorStoreFileDeleted,
  VectorStoreFileContent: vectorStoreFileContent,
  VectorStoreFileBatch: vectorStoreFileBatch,
} satisfies Record<string, z.ZodType>;
type Component = keyof typeof components;

function componentSchemas(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(components)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io: "output", uri: (id) => `#/components/schemas/${id}` }) as { schemas: Record<string, Json> };
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, withoutDialect(schema)]));
}

const ref = (name: Component) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: Component, description = "OK", headers?: Json) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { "application/json": { schema: ref(name) } },
});
const location = (to: string) => ({ Location: { required: true, schema: { type: "string" }, description: to } });
const retryAfter = { "Retry-After": { required: true, schema: { type: "integer" }, description: "seconds" } };
const error = (description: string) => json("Error", description);
const busy = (description: string) => json("Error", description, retryAfter);
/** The per-key rate limits' headers (docs/api.md, "Rate limits"): on every answer of a route whose budget is set. */
const rateLimitHeaders = {
  RateLimit: { required: false, schema: { type: "string" }, description: '`"<budget>";r=<requests left>;t=<seconds until the window resets>` (draft-ietf-httpapi-ratelimit-headers)' },
  "RateLimit-Policy": { required: false, schema: { type: "string" }, description: '`"<budget>";q=<requests a window>;w=60`; budgets: uploads, queries, requests' },
};
/** Every operation an API key calls: its budget may be spent. */
const rateLimited = { "429": json("Error", "This API key's budget for the minute is spent (RATE_LIMITED); see the RateLimit headers", { ...retryAfter, ...rateLimitHeaders }) };
/** What keyword/hybrid retrieval and reranking can refuse (docs/api.md, "Search"). */
const retrievalRefusals = {
  "409": error("mode keyword or hybrid on a collection whose Qdrant collection cannot hold a keyword index: re-embed it (KEYWORD_SEARCH_UNAVAILABLE)"),
  "422": error("rerank: true, but no reranker is configured (RERANK_UNAVAILABLE)"),
};
const serverTiming = {
  "Server-Timing": { required: true, schema: { type: "string" }, description: "milliseconds per step: collection, embed, vector, keyword, join, rerank (e.g. `embed;dur=2.1, vector;dur=6.0`)" },
};
const accepted = (name: Component) => json(name, "Accepted: the work is queued; poll the job, or follow its events", location("/v1/jobs/<id>"));
/**
 * OpenAPI 3.1 has no schema for the items of an event stream (3.2 adds `itemSchema`), so
 * `x-sse-events` names the schema of each event's JSON `data` by its event name.
 */
const eventStream = (events: Record<string, Component>) => ({
  schema: { type: "string", description: `Server-Sent Events: ${Object.keys(events).join(", ")}; each data line is JSON` },
  "x-sse-events": Object.fromEntries(Object.entries(events).map(([event, name]) => [event, ref(name)])),
});

const id = (what: string) => ({ name: "id", in: "path", required: true, schema: { type: "string", format: "uuid" }, description: `${what} id` });
const queryParams = (schema: z.ZodObject) =>
  Object.entries((request(schema).properties ?? {}) as Record<string, Json>).map(([name, s]) => ({ name, in: "query", required: false, schema: s }));
const jsonBody = (schema: z.ZodType) => ({ required: true, content: { "application/json": { schema: request(schema) } } });
const notJson = { "415": error("The body is not UTF-8 JSON (UNSUPPORTED_MEDIA_TYPE)") };

const unauthorized = { "401": error("Missing or unknown API key") };
const adminErrors = { "401": error("Missing or wrong admin token"), "403": error("ADMIN_TOKEN is not set: the ops routes are off (ADMIN_DISABLED)") };
const backupId = { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$" }, description: "backup id" };
const invalid = { "400": error("Invalid request (VALIDATION_ERROR with details, INVALID_JSON)") };
const notFound = (what: string) => ({ "404": error(`No such ${what}, or another tenant's`) });
const queueDown = { "503": busy("The queue is unreachable (QUEUE_UNAVAILABLE); nothing was accepted") };
const anyOther = { default: error("Any other failure, in the same shape (e.g. 413 for a JSON body over the limit, 500)") };
const providers = {
  "429": json("Error", "This API key's query budget is spent (RATE_LIMITED), or the embedding or chat provider is rate-limiting Quarry (EMBEDDING_RATE_LIMITED, CHAT_RATE_LIMITED)", { ...retryAfter, ...rateLimitHeaders }),
  "502": error("The provider (or Qdrant) failed or refused"),
  "503": busy("The vector store or the provider cannot be reached; retry later"),
  "504": busy("The provider did not answer in time"),
};

const operation = (operationId: string, tag: string, summary: string, responses: Json, more: Json = {}) => ({
  operationId,
  tags: [tag],
  summary,
  ...more,
  // Operations with their own security (the operator's, the open ones) are not rate-limited.
  responses: { ...(more.security ? {} : rateLimited), ...responses, ...anyOther },
});

/** The tag of the OpenAI-compatible routes, whose errors have OpenAI's shape. */
const OPENAI_TAG = "OpenAI-compatible";
/**
 * Errors of the OpenAI-compatible routes: `{error: {message, type, param, code}}`, `code` being
 * Quarry's code in lower case (`invalid_api_key` for a 401), as OpenAI's SDKs read them.
 */
const oaError = (description: string) => json("OpenAIError", description);
const oaBusy = (description: string) => json("OpenAIError", description, retryAfter);
const oaInvalid = { "400": oaError("Invalid request (validation_error, `param` naming the field; invalid_json)") };
const oaNotJson = { "415": oaError("The body is not UTF-8 JSON (unsupported_media_type)") };
const oaNotFound = (what: string) => ({ "404": oaError(`No such ${what}, or another tenant's (not_found, \`param\` naming which id)`) });
const oaBadCursor = { "400": oaError("Invalid query (validation_error), or an `after`/`before` that names no object of this list (invalid_cursor)") };
const oaExpired = "a vector store past its expiry (vector_store_expired: extend its expires_after, or create another)";
/** What attaching files (and so queueing their ingests) can refuse (all POSTs: an Idempotency-Key conflict is a 409 too, without Retry-After). */
const oaAttachRefusals = {
  "409": json("OpenAIError", "The vector store's collection is being re-embedded or restored from a backup (collection_busy, with Retry-After)", {
    "Retry-After": { ...retryAfter["Retry-After"], required: false },
  }),
  "413": oaError("A file, or a batch's new files, larger or more than a tenant may have waiting for ingestion at all (tenant_queue_bytes_full, tenant_queue_full): none is attached"),
  "429": json("OpenAIError", "This API key's budget for the minute is spent (rate_limited), or the tenant has too many files or bytes waiting to be ingested (tenant_queue_full, tenant_queue_bytes_full)", {
    ...retryAfter,
    ...rateLimitHeaders,
  }),
  "503": oaBusy("The queue is unreachable (queue_unavailable)"),
};
/** On the objects whose work may be unfinished: how long OpenAI's SDK pollers wait before asking again. */
const pollAfter = {
  "openai-poll-after-ms": { required: false, schema: { type: "integer" }, description: "sent while `status` is in_progress: milliseconds to wait before polling again (read by OpenAI's SDK pollers)" },
};
const vectorStoreIdParam = { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^vs_[0-9a-f]{32}$" }, description: "vector store id (`vs_…`; anything else answers 404)" };
const fileIdParam = (name: string) => ({ name, in: "path", required: true, schema: { type: "string", pattern: "^file-[0-9a-f]{24}$" }, description: "file id (`file-…`; anything else answers 404)" });
const batchIdParam = { name: "batchId", in: "path", required: true, schema: { type: "string", pattern: "^vsfb_[0-9a-f]{32}$" }, description: "file batch id (`vsfb_…`; anything else answers 404)" };

/** An operation of the OpenAI-compatible API: its errors, the key's and the rate limit's included, have OpenAI's shape. */
const openAiOperation = (operationId: string, summary: string, responses: Json, more: Json = {}) => ({
  operationId,
  tags: [OPENAI_TAG],
  summary,
  ...more,
  responses: {
    "401": oaError("Missing or unknown API key (invalid_api_key)"),
    "429": json("OpenAIError", "This API key's budget for the minute is spent (rate_limited); see the RateLimit headers", { ...retryAfter, ...rateLimitHeaders }),
    ...responses,
    default: oaError("Any other failure, in the same shape (e.g. 413 payload_too_large for a JSON body over the limit, 503 database_unavailable, 500 internal)"),
  },
});

/** `/v1/files` and `/v1/vector_stores` (docs/openai-compat.md). */
function openAiPaths(): Json {
  const fileUploadForm = {
    type: "object",
    required: ["file", ...((request(fileUploadFields).required as string[] | undefined) ?? [])],
    properties: {
      file: { type: "string", format: "binary", description: "the file (at most MAX_FILE_SIZE); stored as is, and parsed per vector store it is attached to (a type Quarry cannot parse is attached failed, unsupported_file)" },
      ...(request(fileUploadFields).properties as Json),
    },
  };
  return {
    "/v1/files": {
      post: openAiOperation(
        "createFile",
        "Upload a file (multipart: file, purpose, optional expires_after[anchor] and expires_after[seconds])",
        {
          "200": json("OpenAIFile"),
          "400": oaError("Not multipart/form-data, no `file` part or an empty one, a bad `purpose` or `expires_after` (validation_error); malformed_multipart; invalid_idempotency_key"),
          "413": oaError("Over MAX_FILE_SIZE (payload_too_large)"),
        },
        { requestBody: { required: true, content: { "multipart/form-data": { schema: fileUploadForm } } } },
      ),
      get: openAiOperation("listFiles", "List files", { "200": json("OpenAIFileList"), ...oaBadCursor }, { parameters: queryParams(fileListQuery) }),
    },
    "/v1/files/{id}": {
      parameters: [fileIdParam("id")],
      get: openAiOperation("retrieveFile", "Get a file", { "200": json("OpenAIFile"), ...oaNotFound("file") }),
      delete: openAiOperation("deleteFile", "Delete a file, and remove it from every vector store it is attached to (all of it or nothing)", {
        "200": json("OpenAIFileDeleted"),
        ...oaNotFound("file"),
        "409": json("OpenAIError", "A vector store holding it is being restored from a backup (collection_busy); nothing was deleted", retryAfter),
        "503": oaBusy("The queue is unreachable (queue_unavailable); nothing was deleted"),
      }),
    },
    "/v1/files/{id}/content": {
      parameters: [fileIdParam("id")],
      get: openAiOperation("downloadFile", "The file's bytes, as uploaded", {
        "200": {
          description: "The bytes; Content-Type is the type Quarry detected (application/octet-stream when none)",
          headers: { "Content-Disposition": { required: true, schema: { type: "string" }, description: 'attachment; filename="<the file name>"' } },
          content: { "*/*": { schema: { type: "string", format: "binary" } } },
        },
        ...oaNotFound("file"),
      }),
    },
    "/v1/vector_stores": {
      post: openAiOperation(
        "createVectorStore",
        "Create a vector store (a collection named after its id), attaching file_ids",
        { "200": json("VectorStore"), ...oaInvalid, ...oaNotJson, "404": oaError("A file id names no file (not_found, param file_ids)"), ...oaAttachRefusals },
        { requestBody: jsonBody(createVectorStoreBody) },
      ),
      get: openAiOperation("listVectorStores", "List vector stores", { "200": json("VectorStoreList"), ...oaBadCursor }, { parameters: queryParams(openAiListQuery) }),
    },
    "/v1/vector_stores/{id}": {
      parameters: [vectorStoreIdParam],
      get: openAiOperation("getVectorStore", "Get a vector store", { "200": json("VectorStore"), ...oaNotFound("vector store") }),
      post: openAiOperation(
        "modifyVectorStore",
        "Change a vector store's name, metadata or expiry (a new expiry counts from now)",
        { "200": json("VectorStore"), ...oaInvalid, ...oaNotJson, ...oaNotFound("vector store") },
        { requestBody: jsonBody(updateVectorStoreBody) },
      ),
      delete: openAiOperation("deleteVectorStore", "Delete a vector store (its collection's deletion job removes the vectors); the files stay", {
        "200": json("VectorStoreDeleted"),
        ...oaNotFound("vector store"),
        "503": oaBusy("The queue is unreachable (queue_unavailable)"),
      }),
    },
    "/v1/vector_stores/{id}/search": {
      parameters: [vectorStoreIdParam],
      post: openAiOperation(
        "searchVectorStore",
        "Search a vector store's completed files by meaning, with optional attribute filters",
        {
          "200": json("VectorStoreSearchResults"),
          "400": oaError(`Invalid request (validation_error, invalid_json), or ${oaExpired}`),
          ...oaNotJson,
          ...oaNotFound("vector store"),
          "429": json("OpenAIError", "This API key's budget for the minute is spent (rate_limited), or the embedding provider is rate-limiting Quarry (embedding_rate_limited)", {
            ...retryAfter,
            ...rateLimitHeaders,
          }),
          "502": oaError("The embedding provider (or Qdrant) failed or refused"),
          "503": oaBusy("The vector store or the embedding provider cannot be reached; retry later"),
          "504": oaBusy("The embedding provider did not answer in time"),
        },
        { requestBody: jsonBody(vectorStoreSearchBody) },
      ),
    },
    "/v1/vector_stores/{id}/files": {
      parameters: [vectorStoreIdParam],
      post: openAiOperation(
        "createVectorStoreFile",
        "Attach a file to a vector store (ingested in the background; an attached file answers as it is)",
        {
          "200": json("VectorStoreFile", "The vector store file; poll it until its status is no longer in_progress", pollAfter),
          "400": oaError(`Invalid request (validation_error, invalid_json), or ${oaExpired}`),
          ...oaNotJson,
          ...oaNotFound("vector store or file"),
          ...oaAttachRefusals,
        },
        { requestBody: jsonBody(attachFileBody) },
      ),
      get: openAiOperation(
        "listVectorStoreFiles",
        "List a vector store's files (`filter` by status)",
        { "200": json("VectorStoreFileList"), ...oaBadCursor, ...oaNotFound("vector store") },
        { parameters: queryParams(vectorStoreFileListQuery) },
      ),
    },
    "/v1/vector_stores/{id}/files/{fileId}": {
      parameters: [vectorStoreIdParam, fileIdParam("fileId")],
      get: openAiOperation("getVectorStoreFile", "Get a vector store file (poll it while in_progress)", {
        "200": json("VectorStoreFile", "OK", pollAfter),
        ...oaNotFound("vector store, or file in it"),
      }),
      post: openAiOperation(
        "updateVectorStoreFileAttributes",
        "Replace a vector store file's attributes (what filters read)",
        {
          "200": json("VectorStoreFile"),
          ...oaInvalid,
          ...oaNotJson,
          ...oaNotFound("vector store, or file in it"),
          "502": oaError("Qdrant refused the new attributes"),
          "503": oaBusy("The vector store cannot be reached; retry later"),
        },
        { requestBody: jsonBody(updateVectorStoreFileBody) },
      ),
      delete: openAiOperation("deleteVectorStoreFile", "Remove a file from a vector store (its chunks and vectors, by a deletion job); the file stays", {
        "200": json("VectorStoreFileDeleted"),
        ...oaNotFound("vector store, or file in it"),
        "409": json("OpenAIError", "The vector store is being restored from a backup (collection_busy)", retryAfter),
        "503": oaBusy("The queue is unreachable (queue_unavailable)"),
      }),
    },
    "/v1/vector_stores/{id}/files/{fileId}/content": {
      parameters: [vectorStoreIdParam, fileIdParam("fileId")],
      get: openAiOperation("retrieveVectorStoreFileContent", "A vector store file's parsed text, as its chunks", {
        "200": json("VectorStoreFileContent"),
        ...oaNotFound("vector store, or file in it"),
      }),
    },
    "/v1/vector_stores/{id}/file_batches": {
      parameters: [vectorStoreIdParam],
      post: openAiOperation(
        "createVectorStoreFileBatch",
        "Attach several files at once (file_ids, or files with their own attributes and chunking)",
        {
          "200": json("VectorStoreFileBatch", "The batch; poll it until its status is no longer in_progress", pollAfter),
          "400": oaError(`Invalid request (validation_error, invalid_json; file_ids and files are exclusive), or ${oaExpired}`),
          ...oaNotJson,
          "404": oaError("No such vector store, or a file id names no file: none is attached (not_found)"),
          ...oaAttachRefusals,
        },
        { requestBody: jsonBody(createFileBatchBody) },
      ),
    },
    "/v1/vector_stores/{id}/file_batches/{batchId}": {
      parameters: [vectorStoreIdParam, batchIdParam],
      get: openAiOperation("getVectorStoreFileBatch", "Get a file batch (poll it while in_progress)", {
        "200": json("VectorStoreFileBatch", "OK", pollAfter),
        ...oaNotFound("vector store, or file batch in it"),
      }),
    },
    "/v1/vector_stores/{id}/file_batches/{batchId}/cancel": {
      parameters: [vectorStoreIdParam, batchIdParam],
      post: openAiOperation("cancelVectorStoreFileBatch", "Cancel a batch's files still being ingested (queued ones at once, running ones at their next boundary)", {
        "200": json("VectorStoreFileBatch", "The batch: in_progress until its files have stopped, then cancelled", pollAfter),
        ...oaNotFound("vector store, or file batch in it"),
      }),
    },
    "/v1/vector_stores/{id}/file_batches/{batchId}/files": {
      parameters: [vectorStoreIdParam, batchIdParam],
      get: openAiOperation(
        "listFilesInVectorStoreBatch",
        "List a file batch's files (`filter` by status)",
        { "200": json("VectorStoreFileList"), ...oaBadCursor, ...oaNotFound("vector store, or file batch in it") },
        { parameters: queryParams(vectorStoreFileListQuery) },
      ),
    },
  };
}

function buildDocument(): Json {
  const uploadForm = {
    type: "object",
    required: ["file"],
    properties: {
      file: { type: "string", format: "binary", description: `PDF, Word (DOCX, DOC), spreadsheets (XLSX, ODS), PPTX, RTF, EPUB, HTML, Markdown, CSV, text, or an image read by OCR (PNG, JPEG, TIFF), detected from the bytes (${PARSEABLE_MIME_TYPES.join(", ")})` },
      ...(request(documentFields).properties as Json),
      metadata: { type: "string", description: "a JSON object, as text" },
    },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "Quarry",
      version: "1",
      description: "Queue-driven document ingestion, search and RAG chat. Async work answers 202 with a job to poll. See docs/api.md.",
    },
    security: [{ bearer: [] }],
    tags: [
      ...["Collections", "Documents", "Search", "Chat", "Embeddings", "Jobs", "Workflows", "Backups", "Health"].map((name) => ({ name })),
      { name: OPENAI_TAG, description: "OpenAI's Files and Vector Stores APIs over Quarry's collections; their errors have OpenAI's shape (docs/openai-compat.md)" },
    ],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An API key from API_KEYS (or, on /v1/jobs, the ADMIN_TOKEN for the operator's jobs)" },
        admin: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN (browsers: Basic with user admin)" },
      },
      schemas: componentSchemas(),
    },
    paths: {
      "/v1/collections": {
        post: operation(
          "createCollection",
          "Collections",
          "Create a collection",
          {
            "201": json("Collection", "Created", location("/v1/collections/<id>")),
            ...invalid,
            ...notJson,
            ...unauthorized,
            "409": error("The name is taken (COLLECTION_EXISTS)"),
            "422": error("The embedding provider or model cannot be served"),
          },
          { requestBody: jsonBody(createBody) },
        ),
        get: operation("listCollections", "Collections", "List collections", { "200": json("CollectionList"), ...invalid, ...unauthorized }, { parameters: queryParams(listQuery) }),
      },
      "/v1/collections/{id}": {
        parameters: [id("collection")],
        get: operation("getCollection", "Collections", "Get a collection", { "200": json("Collection"), ...unauthorized, ...notFound("collection") }),
        delete: operation(
          "deleteCollection",
          "Collections",
          "Delete a collection and its vectors (a job)",
          {
            "202": accepted("JobAccepted"),
            "400": error("A bad callback_url (VALIDATION_ERROR, CALLBACK_URL_REFUSED, CALLBACKS_DISABLED); nothing was deleted"),
            ...unauthorized,
            ...notFound("collection"),
            ...queueDown,
          },
          { parameters: queryParams(deleteCollectionQuery) },
        ),
      },
      "/v1/collections/{id}/reembed": {
        parameters: [id("collection")],
        post: operation(
          "reembedCollection",
          "Collections",
          "Re-embed every chunk with another model (a job)",
          {
            "202": accepted("JobAccepted"),
            ...invalid,
            ...notJson,
            ...unauthorized,
            ...notFound("collection"),
            "409": json("Error", "A re-embed runs (REEMBED_IN_PROGRESS), or documents are still ingesting (COLLECTION_BUSY, with Retry-After)", {
              "Retry-After": { ...retryAfter["Retry-After"], required: false },
            }),
            "422": error("The model cannot be served"),
            ...queueDown,
          },
          { requestBody: jsonBody(reembedBody) },
        ),
      },
      "/v1/collections/{id}/documents": {
        parameters: [id("collection")],
        post: operation(
          "addDocument",
          "Documents",
          "Add a document (file upload, JSON text, or a URL a worker fetches)",
          {
            "202": accepted("DocumentAccepted"),
            "200": json("DocumentAccepted", "The same content (or the same URL) is already in the collection: the existing document", location("/v1/documents/<id>")),
            "400": error("Invalid request (VALIDATION_ERROR with details, INVALID_JSON), or a URL the outbound guard will not call (URL_REFUSED)"),
            ...unauthorized,
            ...notFound("collection"),
            "409": busy("The collection is being re-embedded (COLLECTION_BUSY)"),
            "413": error("Over MAX_FILE_SIZE (PAYLOAD_TOO_LARGE), or larger than a tenant may have queued at all (TENANT_QUEUE_BYTES_FULL)"),
            "429": json("Error", "The key's upload budget is spent (RATE_LIMITED), or the tenant has too many documents or bytes waiting to be ingested (TENANT_QUEUE_FULL, TENANT_QUEUE_BYTES_FULL)", { ...retryAfter, ...rateLimitHeaders }),
            "415": error("A file type Quarry cannot parse, or a body that is neither multipart nor JSON (UNSUPPORTED_MEDIA_TYPE)"),
            ...queueDown,
          },
          { requestBody: { required: true, content: { "multipart/form-data": { schema: uploadForm }, "application/json": { schema: { oneOf: [request(textBody), request(urlBody)] } } } } },
        ),
        get: operation(
          "listDocuments",
          "Documents",
          "List a collection's documents",
          { "200": json("DocumentList"), ...invalid, ...unauthorized, ...notFound("collection") },
          { parameters: queryParams(listDocumentsQuery) },
        ),
      },
      "/v1/documents/{id}": {
        parameters: [id("document")],
        get: operation("getDocument", "Documents", "Get a document", { "200": json("Document"), ...unauthorized, ...notFound("document") }),
        delete: operation(
          "deleteDocument",
          "Documents",
          "Delete a document and its vectors (a job)",
          {
            "202": accepted("JobAccepted"),
            "400": error("A bad callback_url (VALIDATION_ERROR, CALLBACK_URL_REFUSED, CALLBACKS_DISABLED); nothing was deleted"),
            ...unauthorized,
            ...notFound("document"),
            ...queueDown,
          },
          { parameters: queryParams(deleteDocumentQuery) },
        ),
      },
      "/v1/collections/{id}/search": {
        parameters: [id("collection")],
        post: operation(
          "searchCollection",
          "Search",
          "Search a collection",
          {
            "200": json("SearchResults", "OK", serverTiming),
            ...invalid,
            ...notJson,
            ...unauthorized,
            ...notFound("collection"),
            ...retrievalRefusals,
            ...providers,
          },
          { requestBody: jsonBody(searchBody) },
        ),
      },
      "/v1/chat": {
        post: operation(
          "chat",
          "Chat",
          "Ask a question over collections (RAG); stream: true answers as Server-Sent Events",
          {
            "200": {
              description: "The answer (JSON), or with stream: true an event stream: sources, delta…, then done or error",
              content: {
                "application/json": { schema: ref("ChatAnswer") },
                "text/event-stream": eventStream({ sources: "ChatSourcesEvent", delta: "ChatDeltaEvent", done: "ChatAnswer", error: "Error" }),
              },
            },
            ...invalid,
            ...notJson,
            ...unauthorized,
            ...notFound("collection or chat session"),
            ...retrievalRefusals,
            ...providers,
          },
          { requestBody: jsonBody(chatBody) },
        ),
      },
      "/v1/chat/sessions/{id}": {
        parameters: [id("chat session")],
        get: operation("getChatSession", "Chat", "A chat session's messages", { "200": json("ChatSession"), ...unauthorized, ...notFound("chat session") }),
      },
      "/v1/embeddings": {
        post: operation(
          "createEmbeddings",
          "Embeddings",
          "OpenAI-compatible embeddings (small batches)",
          { "200": json("Embeddings"), ...invalid, ...notJson, ...unauthorized, "422": error("The model cannot be served"), ...providers },
          { requestBody: jsonBody(embeddingsBody) },
        ),
      },
      "/v1/jobs": {
        get: operation("listJobs", "Jobs", "List jobs, newest first", { "200": json("JobList"), ...invalid, ...unauthorized }, { parameters: queryParams(listJobsQuery) }),
      },
      "/v1/jobs/{id}": {
        parameters: [id("job")],
        get: operation("getJob", "Jobs", "Get a job (from Postgres)", { "200": json("Job"), ...unauthorized, ...notFound("job") }),
      },
      "/v1/jobs/{id}/cancel": {
        parameters: [id("job")],
        post: operation("cancelJob", "Jobs", "Cancel a job: one no worker holds ends at once; a running ingest, re-embed or workflow run stops at its next boundary", {
          "200": json("JobAccepted", "Cancelled: it had not started (or was waiting), and has ended `cancelled`"),
          "202": accepted("JobAccepted"),
          ...unauthorized,
          ...notFound("job"),
          "409": error("The job has ended, or its type cannot be cancelled (deletions) (JOB_NOT_CANCELLABLE)"),
          ...queueDown,
        }),
      },
      "/v1/jobs/{id}/events": {
        parameters: [id("job")],
        get: operation("followJob", "Jobs", "Follow a job: Server-Sent Events `progress` … `end`", {
          "200": {
            description: "The job record on every change (progress), once more when it ends (end); timeout after 10 minutes",
            content: { "text/event-stream": eventStream({ progress: "Job", end: "Job", timeout: "JobStreamTimeout", error: "Error" }) },
          },
          ...unauthorized,
          ...notFound("job"),
        }),
      },
      "/v1/jobs/{id}/retry": {
        parameters: [id("job")],
        post: operation("retryJob", "Jobs", "Re-queue a failed job from its first step", {
          "202": accepted("JobAccepted"),
          ...unauthorized,
          ...notFound("job"),
          "409": error("The job is not failed, or cannot be retried (JOB_NOT_RETRYABLE)"),
          ...queueDown,
        }),
      },
      "/v1/workflows": {
        post: operation(
          "createWorkflow",
          "Workflows",
          "Define a workflow: steps (search, llm, http, ingest, chat) forming a DAG, checked with the JSON path of every problem",
          { "201": json("Workflow", "Created", location("/v1/workflows/<id>")), ...unauthorized, "400": error("INVALID_WORKFLOW (details: [{path, message}]), VALIDATION_ERROR, INVALID_JSON"), ...notJson, "409": error("The tenant has a workflow of that name (WORKFLOW_NAME_TAKEN)") },
          { requestBody: jsonBody(workflowBody) },
        ),
        get: operation("listWorkflows", "Workflows", "List workflows (their current versions), newest first", { "200": json("WorkflowList"), ...unauthorized, ...invalid }, { parameters: queryParams(listQuery) }),
      },
      "/v1/workflows/signing-secret": {
        get: operation("getWorkflowSigningSecret", "Workflows", "The key your workflows' http steps are signed with (yours alone, derived from the deployment's WEBHOOK_SECRET)", { "200": json("WorkflowSigningSecret"), ...unauthorized }),
      },
      "/v1/workflows/{id}": {
        parameters: [id("workflow")],
        get: operation("getWorkflow", "Workflows", "Get a workflow at its current version, or at ?version", { "200": json("Workflow"), ...unauthorized, ...invalid, ...notFound("workflow (or version)") }, { parameters: queryParams(workflowQuery) }),
        put: operation(
          "updateWorkflow",
          "Workflows",
          "Store a new version (the whole definition); runs already started keep theirs",
          { "200": json("Workflow"), ...unauthorized, "400": error("INVALID_WORKFLOW (details: [{path, message}]), VALIDATION_ERROR, INVALID_JSON"), ...notJson, ...notFound("workflow"), "409": error("Another workflow has that name (WORKFLOW_NAME_TAKEN)") },
          { requestBody: jsonBody(workflowBody) },
        ),
        delete: operation("deleteWorkflow", "Workflows", "Delete a workflow: no new runs; runs already started finish", { "204": { description: "Deleted" }, ...unauthorized, ...notFound("workflow") }),
      },
      "/v1/workflows/{id}/runs": {
        parameters: [id("workflow")],
        post: operation(
          "startWorkflowRun",
          "Workflows",
          "Run the workflow's current version with an input",
          {
            "202": json("WorkflowRunAccepted", "Accepted: the run's job is queued; poll the run, or the job", location("/v1/jobs/<id>")),
            ...unauthorized,
            "400": error("INVALID_INPUT (input_schema), VALIDATION_ERROR, CALLBACKS_DISABLED, CALLBACK_URL_REFUSED"),
            ...notJson,
            ...notFound("workflow"),
            ...queueDown,
          },
          { requestBody: { ...jsonBody(runBody), required: false } },
        ),
        get: operation("listWorkflowRuns", "Workflows", "List the workflow's runs, newest first (without their steps)", { "200": json("WorkflowRunList"), ...unauthorized, ...invalid, ...notFound("workflow") }, { parameters: queryParams(listQuery) }),
      },
      "/v1/workflow-runs/{id}": {
        parameters: [id("workflow run")],
        get: operation("getWorkflowRun", "Workflows", "Get a run: its status and, per step, status, attempts, output (truncated past 64 KiB), error and timings", { "200": json("WorkflowRun"), ...unauthorized, ...notFound("workflow run") }),
      },
      "/v1/backups": {
        post: operation(
          "createBackup",
          "Backups",
          "Take a backup now (every active collection, or some)",
          { "202": json("BackupAccepted", "Accepted: the backup job is queued; poll it at /v1/jobs/<id> with the admin token", location("/v1/jobs/<id>")), ...adminErrors, ...invalid, ...notJson, "404": error("A collection named is not active (COLLECTION_NOT_FOUND)"), ...queueDown },
          { security: [{ admin: [] }], requestBody: { ...jsonBody(createBackupBody), required: false } },
        ),
        get: operation("listBackups", "Backups", "List backups, newest first: published ones from storage, running and failed ones from Postgres", { "200": json("BackupList"), ...adminErrors }, { security: [{ admin: [] }] }),
      },
      "/v1/backups/{id}": {
        parameters: [backupId],
        get: operation("getBackup", "Backups", "Get a backup", { "200": json("Backup"), ...adminErrors, "404": error("No such backup (BACKUP_NOT_FOUND)") }, { security: [{ admin: [] }] }),
      },
      "/v1/backups/{id}/restore": {
        parameters: [backupId],
        post: operation(
          "restoreBackup",
          "Backups",
          "Restore collections from a backup, in place (the default) or beside the live ones (as_new_collection)",
          {
            "202": accepted("JobAccepted"),
            ...adminErrors,
            ...invalid,
            ...notJson,
            "404": error("No such backup (BACKUP_NOT_FOUND)"),
            "422": error("The backup cannot be restored here: BACKUP_INVALID, COLLECTION_NOT_IN_BACKUP, RESTORE_STORE_MISMATCH"),
            ...queueDown,
          },
          { security: [{ admin: [] }], requestBody: { ...jsonBody(restoreBody), required: false } },
        ),
      },
      "/health": { get: operation("getHealth", "Health", "Liveness", { "200": json("Health") }, { security: [] }) },
      "/ready": {
        get: operation(
          "getReadiness",
          "Health",
          "Readiness: Redis, Postgres and the vector store answer within 2 s",
          { "200": json("Readiness"), "503": json("Readiness", "A dependency is down", retryAfter) },
          { security: [] },
        ),
      },
      "/metrics": {
        get: operation(
          "getMetrics",
          "Health",
          "Prometheus metrics of this process (workers and the scheduler serve theirs on OPS_PORT); see docs/operations.md",
          { "200": { description: "OK", content: { "text/plain": { schema: { type: "string", description: "Prometheus text exposition format 0.0.4" } } } } },
          { security: [] },
        ),
      },
      ...openAiPaths(),
    },
  };
}

/** POSTs that only read: they ignore an Idempotency-Key. */
const READ_ONLY_POSTS = new Set(["searchCollection", "createEmbeddings", "searchVectorStore"]);

/** Every other POST takes an `Idempotency-Key` header (see docs/api.md, "Idempotency keys"). */
function withIdempotencyKeys(doc: Json): Json {
  const header = {
    name: "Idempotency-Key",
    in: "header",
    required: false,
    schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x21-\\x7e]+$" },
    description: "Send the same key again to get the first answer again (24 h); another request under it → 409 IDEMPOTENCY_KEY_REUSED; one still in flight → 409 IDEMPOTENCY_KEY_IN_FLIGHT",
  };
  for (const item of Object.values(doc.paths as Record<string, Json>)) {
    const post = item.post as Json | undefined;
    if (!post || READ_ONLY_POSTS.has(post.operationId as string)) continue;
    post.parameters = [...((post.parameters as Json[] | undefined) ?? []), header];
    const responses = post.responses as Json;
    const openAi = (post.tags as string[]).includes(OPENAI_TAG);
    const codes = ["IDEMPOTENCY_KEY_REUSED", "IDEMPOTENCY_KEY_IN_FLIGHT"].map((c) => (openAi ? c.toLowerCase() : c)).join(", ");
    const keyConflict = `the Idempotency-Key was used for another request, or its first request is still in flight (${codes})`;
    const conflict = responses["409"] as Json | undefined;
    responses["409"] = conflict ? { ...conflict, description: `${String(conflict.description)}; or ${keyConflict}` } : json(openAi ? "OpenAIError" : "Error", `Conflict: ${keyConflict}`);
  }
  return doc;
}

let built: Json | undefined;

/** The OpenAPI 3.1 description of the API, served at /openapi.json, for clients of `serverUrl`. */
export function openApiDocument(serverUrl: string): Json {
  built ??= withIdempotencyKeys(buildDocument());
  const { openapi, info, ...rest } = built;
  return { openapi, info, servers: [{ url: serverUrl }], ...rest };
}
