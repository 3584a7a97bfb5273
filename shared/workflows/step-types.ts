import { z } from "zod";
import { SEARCH_MODES } from "../retrieval/search-modes.ts";
import { filterSchema } from "../vector-store/filter.ts";

/** A JSON Schema, as a plain object (draft 2020-12 keywords). */
export type JsonSchema = Record<string, unknown> | boolean;

/** A string that is exactly one `{{reference}}`: a value whose type is only known when the step runs. */
const wholeReference = z.string().regex(/^\{\{\s*[^{}]*?\s*\}\}$/, "expected a value or one {{reference}}");

const text = (max: number) => z.string().min(1).max(max);
const jsonObject = z.record(z.string(), z.unknown());
const filter = filterSchema.describe("metadata filter, as in search");
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers Quarry sets itself (framing, host, the signature). */
const RESERVED_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection", "upgrade", "webhook-id", "webhook-timestamp", "webhook-signature"]);

type Wrap = <S extends z.ZodType>(schema: S) => S;

/**
 * The `with` of every step type. As a definition writes it, a non-string value may be one
 * `{{reference}}` (`orReference` widens the schema to allow it); once references are resolved,
 * the same schemas with `orReference` as the identity check what the step will really get.
 */
function withSchemas(orReference: Wrap) {
  const collectionId = orReference(z.uuid());
  const search = z.strictObject({
    collection_id: collectionId,
    query: text(10_000),
    top_k: orReference(z.number().int().min(1).max(100)).default(5),
    filter: orReference(filter).optional(),
    score_threshold: orReference(z.number()).optional(),
    mode: orReference(z.enum(SEARCH_MODES)).optional().describe("as in search: the collection's default when absent"),
    rerank: orReference(z.boolean()).optional(),
  });

  const llm = z.strictObject({
    prompt: text(100_000),
    system: text(20_000).optional(),
    model: text(200).optional().describe("defaults to CHAT_MODEL"),
    temperature: orReference(z.number().min(0).max(2)).default(0.2),
    max_tokens: orReference(z.number().int().min(1).max(100_000)).optional(),
    schema: jsonObject.optional().describe("JSON Schema of the answer: asked of the model as structured output, then validated; an answer that does not validate is retried"),
  });

  const http = z.strictObject({
    method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]).optional().describe("POST when there is a body, else GET"),
    url: text(2_000),
    headers: z
      .record(z.string().regex(HEADER_NAME, "not a header name").max(200), z.string().max(8_000))
      .refine((h) => Object.keys(h).every((k) => !RESERVED_HEADERS.has(k.toLowerCase())), "host, content-length, connection and webhook-* are set by Quarry")
      .optional(),
    body: z.unknown().optional().describe("JSON body (sent as application/json); a string is sent as it is"),
  }).refine((w) => !(w.method === "GET" && w.body !== undefined), { message: "a GET request cannot have a body", path: ["body"] });

  const ingest = z.strictObject({
    collection_id: collectionId,
    text: z.string().min(1).max(10 * 1024 * 1024),
    title: text(500).optional(),
    metadata: orReference(z.record(z.string().max(64), z.unknown())).optional(),
    external_id: text(500).optional(),
  });

  const chat = z.strictObject({
    collection_ids: orReference(z.array(collectionId).min(1).max(20)),
    message: text(10_000),
    top_k: orReference(z.number().int().min(1).max(50)).default(5),
    temperature: orReference(z.number().min(0).max(2)).default(0.3),
    filter: orReference(filter).optional(),
  });
  return { search, llm, http, ingest, chat };
}

// Typed as the resolved schemas: a definition's `with` is only checked, and stored as plain JSON.
const definitionWith = withSchemas(((schema: z.ZodType) => z.union([schema, wholeReference])) as Wrap);
const resolvedWith = withSchemas((schema) => schema);
type LlmWith = z.output<typeof definitionWith.llm>;

const open: JsonSchema = true;
const string = { type: "string" };
const integer = { type: "integer" };
const closed = (properties: Record<string, JsonSchema>): JsonSchema => ({ type: "object", properties, additionalProperties: false });
const number = { type: "number" };
const scores = closed({ vector: number, keyword: number, rerank: number });
const hit = closed({ document_id: string, chunk_index: integer, score: number, scores, text: string, title: { type: ["string", "null"] }, metadata: open, page: integer, heading: string, sheet: string, slide: integer, ocr_confidence: number });
const source = closed({
  n: integer,
  collection_id: string,
  document_id: string,
  chunk_index: integer,
  title: { type: ["string", "null"] },
  page: integer,
  heading: string,
  sheet: string,
  slide: integer,
  ocr_confidence: number,
  score: number,
  scores,
  text: string,
  metadata: open,
});
const usage = closed({ prompt_tokens: integer, completion_tokens: integer, total_tokens: integer });

/**
 * Every step type: its `with` as a definition may write it (values may be references) and the
 * JSON Schema of its output, against which `{{steps.<id>.output…}}` references are checked.
 */
export const STEP_TYPES = {
  search: {
    with: definitionWith.search,
    resolved: resolvedWith.search,
    output: () => closed({ results: { type: "array", items: hit }, mode: string, reranked: { type: "boolean" }, warnings: { type: "array", items: open } }),
  },
  llm: {
    with: definitionWith.llm,
    resolved: resolvedWith.llm,
    output: (w: LlmWith) => closed({ text: string, ...(w.schema ? { data: w.schema } : {}), model: string, usage }),
  },
  http: { with: definitionWith.http, resolved: resolvedWith.http, output: () => closed({ status: integer, headers: { type: "object", additionalProperties: string }, body: open }) },
  ingest: {
    with: definitionWith.ingest,
    resolved: resolvedWith.ingest,
    output: () => closed({ document_id: string, status: string, chunk_count: integer, title: { type: ["string", "null"] }, created: { type: "boolean" } }),
  },
  chat: { with: definitionWith.chat, resolved: resolvedWith.chat, output: () => closed({ answer: string, sources: { type: "array", items: source }, mode: string, model: string, session_id: string }) },
} as const;

export type StepTypeName = keyof typeof STEP_TYPES;
export const STEP_TYPE_NAMES = Object.keys(STEP_TYPES) as StepTypeName[];
/** A step's `with` once its references are resolved: what its executor gets. */
export type StepWith<T extends StepTypeName> = z.output<(typeof STEP_TYPES)[T]["resolved"]>;

/** The output schema of a step, given its parsed `with`. */
export function outputSchemaOf(type: StepTypeName, parsedWith: unknown): JsonSchema {
  const stepType = STEP_TYPES[type] as { output: (w: unknown) => JsonSchema };
  return stepType.output(parsedWith);
}
