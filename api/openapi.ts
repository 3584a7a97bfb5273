import { z } from "zod";
import { PARSEABLE_MIME_TYPES } from "../shared/parsing/parsers.ts";
import { chatBody } from "./routes/chat.routes.ts";
import { createBody, reembedBody } from "./routes/collections.routes.ts";
import { documentFields, listDocumentsQuery, textBody } from "./routes/documents.routes.ts";
import { embeddingsBody } from "./routes/embeddings.routes.ts";
import { listJobsQuery } from "./routes/jobs.routes.ts";
import { listQuery } from "./routes/params.ts";
import { searchBody } from "./routes/search.routes.ts";

type Json = Record<string, unknown>;

/** Request schemas come from the zod schemas the routes validate with, so they cannot drift. */
const request = (schema: z.ZodType): Json => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json;
  return rest;
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description = "OK") => ({ description, content: { "application/json": { schema } } });
const error = (description: string) => json(ref("Error"), description);
const id = (name: string, what: string) => ({ name, in: "path", required: true, schema: { type: "string", format: "uuid" }, description: `${what} id` });
const queryParams = (schema: z.ZodObject) =>
  Object.entries((request(schema).properties ?? {}) as Record<string, Json>).map(([name, s]) => ({ name, in: "query", required: false, schema: s }));
const accepted = (schema: Json) => ({
  description: "Accepted: the work is queued; poll the job",
  headers: { Location: { schema: { type: "string" }, description: "/v1/jobs/<id>" } },
  content: { "application/json": { schema } },
});
const common = { "400": error("Invalid request"), "401": error("Missing or unknown API key"), "404": error("Not found, or another tenant's") };

const schemas: Record<string, Json> = {
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: { code: { type: "string", examples: ["VALIDATION_ERROR"] }, message: { type: "string" }, details: {}, retry_after: { type: "integer" } },
      },
    },
  },
  Embedding: { type: "object", properties: { provider: { type: "string" }, model: { type: "string" }, dimensions: { type: "integer" } } },
  Collection: {
    type: "object",
    required: ["id", "name", "embedding", "document_count", "created_at"],
    properties: {
      id: { type: "string", format: "uuid" },
      name: { type: "string" },
      embedding: ref("Embedding"),
      document_count: { type: "integer" },
      reembedding_to: ref("Embedding"),
      created_at: { type: "string", format: "date-time" },
    },
  },
  Document: {
    type: "object",
    required: ["id", "collection_id", "status", "mime_type", "size_bytes", "sha256", "chunk_count", "metadata", "created_at", "updated_at"],
    properties: {
      id: { type: "string", format: "uuid" },
      collection_id: { type: "string", format: "uuid" },
      title: { type: ["string", "null"] },
      status: { enum: ["queued", "processing", "ready", "failed"] },
      error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" } } },
      mime_type: { type: "string", enum: PARSEABLE_MIME_TYPES },
      size_bytes: { type: "integer" },
      sha256: { type: "string" },
      page_count: { type: "integer" },
      chunk_count: { type: "integer" },
      metadata: { type: "object" },
      external_id: { type: "string" },
      created_at: { type: "string", format: "date-time" },
      updated_at: { type: "string", format: "date-time" },
    },
  },
  Job: {
    type: "object",
    required: ["id", "type", "status", "progress", "attempts", "max_attempts", "created_at"],
    properties: {
      id: { type: "string", format: "uuid" },
      type: { type: "string", enum: ["ingest_document", "delete_document", "delete_collection", "reembed_collection"] },
      status: { enum: ["queued", "running", "succeeded", "failed", "cancelled"] },
      progress: { type: "integer", minimum: 0, maximum: 100 },
      attempts: { type: "integer" },
      max_attempts: { type: "integer" },
      result: { type: "object" },
      error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" } } },
      created_at: { type: "string", format: "date-time" },
      started_at: { type: "string", format: "date-time" },
      finished_at: { type: "string", format: "date-time" },
    },
  },
  SearchHit: {
    type: "object",
    properties: {
      document_id: { type: "string", format: "uuid" },
      chunk_index: { type: "integer" },
      score: { type: "number" },
      text: { type: "string" },
      title: { type: ["string", "null"] },
      metadata: { type: "object" },
      page: { type: "integer" },
      heading: { type: "string" },
    },
  },
  ChatSource: { allOf: [ref("SearchHit"), { type: "object", properties: { n: { type: "integer" }, collection_id: { type: "string", format: "uuid" } } }] },
  ChatAnswer: {
    type: "object",
    required: ["session_id", "answer", "sources", "model", "mode"],
    properties: {
      session_id: { type: "string", format: "uuid" },
      answer: { type: "string" },
      sources: { type: "array", items: ref("ChatSource") },
      model: { type: "string" },
      mode: { enum: ["llm", "extractive"] },
      usage: { type: "object", properties: { prompt_tokens: { type: "integer" }, completion_tokens: { type: "integer" }, total_tokens: { type: "integer" } } },
    },
  },
  DocumentAccepted: { type: "object", properties: { document: ref("Document"), job: { anyOf: [ref("Job"), { type: "null" }] } } },
  JobAccepted: { type: "object", properties: { job: ref("Job") } },
};

const page = (item: string) => ({ type: "object", properties: { data: { type: "array", items: ref(item) }, next_cursor: { type: ["string", "null"] } } });

/** The OpenAPI 3.1 description of the API, served at /openapi.json. */
export function openApiDocument(serverUrl?: string): Json {
  const uploadForm = {
    type: "object",
    required: ["file"],
    properties: {
      file: { type: "string", format: "binary", description: `PDF, DOCX, HTML, Markdown, CSV or text, detected from the bytes (${PARSEABLE_MIME_TYPES.join(", ")})` },
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
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "An API key from API_KEYS" } }, schemas },
    paths: {
      "/v1/collections": {
        post: {
          summary: "Create a collection",
          requestBody: { required: true, content: { "application/json": { schema: request(createBody) } } },
          responses: { "201": json(ref("Collection"), "Created"), "409": error("The name is taken"), "422": error("The embedding model cannot be served"), ...common },
        },
        get: { summary: "List collections", parameters: queryParams(listQuery), responses: { "200": json(page("Collection")), ...common } },
      },
      "/v1/collections/{id}": {
        parameters: [id("id", "collection")],
        get: { summary: "Get a collection", responses: { "200": json(ref("Collection")), ...common } },
        delete: { summary: "Delete a collection and its vectors (a job)", responses: { "202": accepted(ref("JobAccepted")), ...common } },
      },
      "/v1/collections/{id}/reembed": {
        parameters: [id("id", "collection")],
        post: {
          summary: "Re-embed every chunk with another model (a job)",
          requestBody: { required: true, content: { "application/json": { schema: request(reembedBody) } } },
          responses: { "202": accepted(ref("JobAccepted")), "409": error("A re-embed runs, or documents are still ingesting"), "422": error("The model cannot be served"), ...common },
        },
      },
      "/v1/collections/{id}/documents": {
        parameters: [id("id", "collection")],
        post: {
          summary: "Add a document (file upload or JSON text)",
          requestBody: {
            required: true,
            content: { "multipart/form-data": { schema: uploadForm }, "application/json": { schema: request(textBody) } },
          },
          responses: {
            "202": accepted(ref("DocumentAccepted")),
            "200": json(ref("DocumentAccepted"), "The same content is already in the collection"),
            "409": error("The collection is being re-embedded"),
            "413": error("Over MAX_FILE_SIZE"),
            "415": error("A file type Quarry cannot parse"),
            "503": error("The queue is unreachable; nothing was accepted"),
            ...common,
          },
        },
        get: { summary: "List a collection's documents", parameters: queryParams(listDocumentsQuery), responses: { "200": json(page("Document")), ...common } },
      },
      "/v1/documents/{id}": {
        parameters: [id("id", "document")],
        get: { summary: "Get a document", responses: { "200": json(ref("Document")), ...common } },
        delete: { summary: "Delete a document and its vectors (a job)", responses: { "202": accepted(ref("JobAccepted")), ...common } },
      },
      "/v1/collections/{id}/search": {
        parameters: [id("id", "collection")],
        post: {
          summary: "Search a collection",
          requestBody: { required: true, content: { "application/json": { schema: request(searchBody) } } },
          responses: {
            "200": json({ type: "object", properties: { data: { type: "array", items: ref("SearchHit") } } }),
            "429": error("The embedding provider is rate-limiting"),
            "503": error("The vector store is unavailable"),
            ...common,
          },
        },
      },
      "/v1/chat": {
        post: {
          summary: "Ask a question over collections (RAG); stream: true answers as Server-Sent Events",
          requestBody: { required: true, content: { "application/json": { schema: request(chatBody) } } },
          responses: {
            "200": {
              description: "The answer (JSON), or with stream: true an event stream: sources, delta…, done (or error)",
              content: { "application/json": { schema: ref("ChatAnswer") }, "text/event-stream": { schema: { type: "string" } } },
            },
            "429": error("The model is rate-limiting"),
            "502": error("The model failed"),
            "504": error("The model did not answer in time"),
            ...common,
          },
        },
      },
      "/v1/chat/sessions/{id}": {
        parameters: [id("id", "chat session")],
        get: { summary: "A chat session's messages", responses: { "200": json({ type: "object", properties: { id: { type: "string" }, messages: { type: "array", items: { type: "object" } } } }), ...common } },
      },
      "/v1/embeddings": {
        post: {
          summary: "OpenAI-compatible embeddings (small batches)",
          requestBody: { required: true, content: { "application/json": { schema: request(embeddingsBody) } } },
          responses: { "200": json({ type: "object", properties: { object: { const: "list" }, data: { type: "array" }, model: { type: "string" }, usage: { type: "object" } } }), "422": error("The model cannot be served"), ...common },
        },
      },
      "/v1/jobs": { get: { summary: "List jobs", parameters: queryParams(listJobsQuery), responses: { "200": json(page("Job")), ...common } } },
      "/v1/jobs/{id}": { parameters: [id("id", "job")], get: { summary: "Get a job (from Postgres)", responses: { "200": json(ref("Job")), ...common } } },
      "/v1/jobs/{id}/cancel": {
        parameters: [id("id", "job")],
        post: { summary: "Cancel a job that has not started", responses: { "200": json(ref("JobAccepted")), "409": error("The job has started, ended, or is a deletion"), ...common } },
      },
      "/v1/jobs/{id}/events": {
        parameters: [id("id", "job")],
        get: {
          summary: "Follow a job: Server-Sent Events `progress` … `end`",
          responses: { "200": { description: "An event stream of job records", content: { "text/event-stream": { schema: { type: "string" } } } }, ...common },
        },
      },
      "/v1/jobs/{id}/retry": {
        parameters: [id("id", "job")],
        post: { summary: "Re-queue a failed job from its first step", responses: { "202": accepted(ref("JobAccepted")), "409": error("The job cannot be retried"), ...common } },
      },
      "/health": { get: { summary: "Liveness", security: [], responses: { "200": json({ type: "object" }) } } },
      "/ready": { get: { summary: "Readiness: Redis, Postgres, vector store", security: [], responses: { "200": json({ type: "object" }), "503": json({ type: "object" }, "A dependency is down") } } },
    },
  };
}
