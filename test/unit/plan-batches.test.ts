import { describe, expect, it } from "vitest";
import { planBatches } from "../../shared/use-cases/embed-chunks.ts";

const keys = (doc: string, n: number, tokens = 100) => Array.from({ length: n }, (_, i) => ({ document_id: doc, chunk_index: i, token_count: tokens }));

describe("planBatches", () => {
  it("covers every chunk exactly once in batches of the configured size", () => {
    const plan = planBatches(keys("a", 10), 4);
    expect(plan.map((b) => b.count)).toEqual([4, 4, 2]);
    expect(plan[0]).toMatchObject({ from: { document_id: "a", chunk_index: 0 }, to: { document_id: "a", chunk_index: 3 } });
    expect(plan[2]).toMatchObject({ from: { chunk_index: 8 }, to: { chunk_index: 9 } });
  });

  it("also cuts a batch at the provider's per-request token limit", () => {
    const plan = planBatches(keys("a", 10, 800), 100, 2_000);
    expect(plan.map((b) => b.count)).toEqual([2, 2, 2, 2, 2]);
  });

  it("spans documents when re-embedding a collection", () => {
    const plan = planBatches([...keys("a", 3), ...keys("b", 3)], 4);
    expect(plan[0]).toMatchObject({ from: { document_id: "a", chunk_index: 0 }, to: { document_id: "b", chunk_index: 0 }, count: 4 });
  });

  it("plans nothing for nothing", () => {
    expect(planBatches([], 10)).toEqual([]);
  });
});
