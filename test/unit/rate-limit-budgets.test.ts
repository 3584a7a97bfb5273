import { describe, expect, it } from "vitest";
import { budgetOf } from "../../api/middleware/rate-limits.ts";

describe("which budget a /v1 request spends", () => {
  it("counts uploads, queries and the rest apart, however the path is cased or ended", () => {
    expect(budgetOf("POST", "/collections/abc/documents")).toBe("uploads");
    expect(budgetOf("POST", "/Collections/abc/Documents/")).toBe("uploads");
    expect(budgetOf("POST", "/collections/abc/search")).toBe("queries");
    expect(budgetOf("POST", "/chat")).toBe("queries");
    expect(budgetOf("POST", "/chat/")).toBe("queries");
    expect(budgetOf("POST", "/embeddings")).toBe("queries");
  });

  it("counts the OpenAI-compatible uploads, attachments and searches as uploads and queries", () => {
    expect(budgetOf("POST", "/files")).toBe("uploads");
    expect(budgetOf("POST", "/vector_stores/vs_1/files")).toBe("uploads");
    expect(budgetOf("POST", "/vector_stores/vs_1/file_batches")).toBe("uploads");
    expect(budgetOf("POST", "/vector_stores/vs_1/search")).toBe("queries");
    expect(budgetOf("POST", "/vector_stores")).toBe("requests");
    expect(budgetOf("POST", "/vector_stores/vs_1/files/file-1")).toBe("requests");
    expect(budgetOf("POST", "/vector_stores/vs_1/file_batches/vsfb_1/cancel")).toBe("requests");
    expect(budgetOf("GET", "/files")).toBe("requests");
  });

  it("puts reads and every other write in the rest", () => {
    expect(budgetOf("GET", "/collections/abc/documents")).toBe("requests");
    expect(budgetOf("GET", "/chat/sessions/abc")).toBe("requests");
    expect(budgetOf("POST", "/collections")).toBe("requests");
    expect(budgetOf("POST", "/collections/abc/reembed")).toBe("requests");
    expect(budgetOf("POST", "/collections/abc/documents/extra")).toBe("requests");
    expect(budgetOf("DELETE", "/documents/abc")).toBe("requests");
    expect(budgetOf("POST", "/jobs/abc/retry")).toBe("requests");
  });
});
