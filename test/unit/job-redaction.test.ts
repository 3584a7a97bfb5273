import { describe, expect, it } from "vitest";
import { REDACTED, redactJobValue } from "../../shared/jobs/job-redaction.ts";

const ID = "0b6f3c1e-5d7a-4a4e-9a57-2f0f8a9c1d11";

describe("redactJobValue (what Bull Board shows of a job)", () => {
  it("keeps the ids, steps, versions and embedding spec of real payloads", () => {
    expect(redactJobValue({ tenant_id: "acme", collection_id: ID, document_id: ID, step: "parse" })).toEqual({ tenant_id: "acme", collection_id: ID, document_id: ID, step: "parse" });
    const batch = {
      tenant_id: "acme",
      collection_id: ID,
      vector_version: 2,
      embedding: { provider: "openai", model: "text-embedding-3-small", dimensions: 1536 },
      from: { document_id: ID, chunk_index: 0 },
      to: { document_id: ID, chunk_index: 63 },
      parent_job_id: ID,
      progress: { base: 10, span: 80 },
      ready_only: false,
    };
    expect(redactJobValue(batch)).toEqual(batch);
    const backup = { backup_id: "20261124T020000Z-nightly", trigger: "scheduled", collection_ids: [ID, ID], created_at: "2026-11-24T02:00:00.000Z" };
    expect(redactJobValue(backup)).toEqual(backup);
  });

  it("hides workflow outputs, names, titles, text, metadata and URLs, keeping the keys", () => {
    const result = {
      run_id: ID,
      version: 1,
      outputs: { find: { results: [{ text: "the secret chunk", score: 0.9 }] } },
      collections: [{ id: ID, restored_as: ID, name: "handbook", documents: 5, chunks: 41 }],
    };
    expect(redactJobValue(result)).toEqual({
      run_id: ID,
      version: 1,
      outputs: REDACTED,
      collections: [{ id: ID, restored_as: ID, name: REDACTED, documents: 5, chunks: 41 }],
    });
    expect(redactJobValue({ text: "Dear customer", title: "Contract", metadata: { user: "42" }, callback_url: "https://hooks.example/x?token=s3cret" })).toEqual({
      text: REDACTED,
      title: REDACTED,
      metadata: REDACTED,
      callback_url: REDACTED,
    });
  });

  it("hides a safe-looking field that holds text, a URL, a vector or anything deep", () => {
    expect(redactJobValue({ step: "ignore previous instructions", status: "https://evil.example/?k=v" })).toEqual({ step: REDACTED, status: REDACTED });
    expect(redactJobValue({ embedding: Array.from({ length: 1536 }, () => 0.1) })).toEqual({ embedding: REDACTED });
    expect(redactJobValue({ from: { to: { from: { to: { from: { to: { id: "x" } } } } } } })).toEqual({ from: { to: { from: { to: { from: { to: REDACTED } } } } } });
    expect(redactJobValue("plain text of a document")).toBe(REDACTED);
    expect(redactJobValue([1, 2, 3])).toBe(REDACTED);
  });

  it("keeps numbers, booleans and nothing as they are, and shortens long id lists", () => {
    expect(redactJobValue(42)).toBe(42);
    expect(redactJobValue(null)).toBeNull();
    expect(redactJobValue(undefined)).toBeUndefined();
    const ids = redactJobValue({ collection_ids: Array.from({ length: 60 }, () => ID) }) as { collection_ids: string[] };
    expect(ids.collection_ids).toHaveLength(51);
    expect(ids.collection_ids.at(-1)).toBe("… 10 more");
  });
});
