import { describe, expect, it } from "vitest";
import { LocalEmbeddingProvider } from "../../shared/embeddings/local.embedding-provider.ts";

const cosine = (a: number[], b: number[]) => a.reduce((sum, v, i) => sum + v * b[i]!, 0);

describe("LocalEmbeddingProvider", () => {
  const embedder = new LocalEmbeddingProvider();

  it("is deterministic and returns unit vectors of its dimensions", async () => {
    const [a, b] = await embedder.embed(["Redis keeps the queue", "Redis keeps the queue"]);
    expect(a).toHaveLength(384);
    expect(a).toEqual(b);
    expect(cosine(a!, a!)).toBeCloseTo(1, 6);
  });

  it("scores texts that share words above texts that do not", async () => {
    const [query, near, far] = await embedder.embed([
      "where are vectors stored",
      "LanceDB stores vectors on local disk",
      "The chef seasoned the soup with thyme",
    ]);
    expect(cosine(query!, near!)).toBeGreaterThan(cosine(query!, far!) + 0.1);
  });

  it("gives an empty text a finite unit vector", async () => {
    const [empty] = await embedder.embed([""]);
    expect(empty!.every(Number.isFinite)).toBe(true);
    expect(cosine(empty!, empty!)).toBeCloseTo(1, 6);
  });

  it("treats full-width and presentation forms like their plain letters (NFKC)", async () => {
    const [plain, wide] = await embedder.embed(["Quarry", "Ｑｕａｒｒｙ"]);
    expect(cosine(plain!, wide!)).toBeCloseTo(1, 6);
  });
});

