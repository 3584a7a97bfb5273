import { describe, expect, it } from "vitest";
import { ConfigError, DEV_API_KEY, loadConfig } from "../../shared/config/env.ts";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected the config to be rejected");
}

describe("loadConfig", () => {
  it("applies the documented defaults to an empty environment", () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8000);
    expect(config.HOST).toBe("0.0.0.0");
    expect(config.REDIS_URL).toBe("redis://127.0.0.1:6379");
    expect(config.DATABASE_URL).toBe("postgres://postgres@127.0.0.1:5432/quarry");
    expect(config.MAX_FILE_SIZE).toBe(10 * 1024 * 1024);
    expect(config.CHUNK_SIZE).toBe(800);
    expect(config.CHUNK_OVERLAP).toBe(200);
    expect(config.MAX_HISTORY_MESSAGES).toBe(10);
    expect(config.WORKER_QUEUES).toEqual(["ingest", "embed", "backup", "workflow"]);
    expect(config.QUEUE_PREFIX).toBe("{quarry}");
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("falls back to the development key outside production", () => {
    const config = loadConfig({ NODE_ENV: "development" });
    expect(config.usingDevApiKey).toBe(true);
    expect(config.API_KEYS.get(DEV_API_KEY)).toBe("dev");
  });

  it("refuses to start in production without API_KEYS", () => {
    expect(problems({ NODE_ENV: "production" })).toEqual([expect.stringMatching(/^API_KEYS: .*required/)]);
  });

  it("never falls back to the development key in production, even for an API_KEYS with no pairs", () => {
    expect(problems({ NODE_ENV: "production", API_KEYS: " , " })).toEqual([expect.stringMatching(/^API_KEYS: is required/)]);
  });

  it("parses API_KEYS into key → tenant", () => {
    const config = loadConfig({ API_KEYS: "acme:key-aaaaaaaa, globex:key-bbbbbbbb" });
    expect(config.usingDevApiKey).toBe(false);
    expect([...config.API_KEYS]).toEqual([
      ["key-aaaaaaaa", "acme"],
      ["key-bbbbbbbb", "globex"],
    ]);
  });

  it("names every bad variable and what it expected, in one message", () => {
    const found = problems({ PORT: "eighty", CHUNK_SIZE: "10", REDIS_URL: "http://x", API_KEYS: "nocolon" });
    expect(found).toHaveLength(4);
    expect(found.some((p) => p.startsWith("PORT:") && p.includes('"eighty"'))).toBe(true);
    expect(found.some((p) => p.startsWith("CHUNK_SIZE:"))).toBe(true);
    expect(found.some((p) => p.startsWith("REDIS_URL:"))).toBe(true);
    expect(found.some((p) => p.startsWith("API_KEYS:") && p.includes("tenant:key"))).toBe(true);
  });

  it("never echoes the value of a secret variable", () => {
    const found = problems({ API_KEYS: "acme:short" });
    expect(found.join("\n")).not.toContain("short");
  });

  it("checks the retrieval settings: a reranker needs its model and no credentials in its URL; hybrid weights cannot both be 0", () => {
    expect(loadConfig({ RERANK_URL: "https://api.jina.ai/v1/rerank", RERANK_MODEL: "jina-reranker-v2-base-multilingual" })).toMatchObject({ RERANK_TIMEOUT_MS: 3000, RERANK_CANDIDATES: 30 });
    expect(problems({ RERANK_URL: "https://api.jina.ai/v1/rerank" }).join("\n")).toContain("RERANK_MODEL");
    const credentials = problems({ RERANK_URL: "https://user:s3cret@rerank.example/v1/rerank", RERANK_MODEL: "m" }).join("\n");
    expect(credentials).toContain("RERANK_URL: must not hold credentials");
    expect(credentials).not.toContain("s3cret");
    expect(problems({ HYBRID_VECTOR_WEIGHT: "0", HYBRID_KEYWORD_WEIGHT: "0" }).join("\n")).toContain("cannot both be 0");
    expect(problems({ QUERY_EMBEDDING_CACHE: "1000000" }).join("\n")).toContain("QUERY_EMBEDDING_CACHE");
  });

  it("reads the backup settings, with their defaults", () => {
    const config = loadConfig({});
    expect([config.BACKUP_CRON, config.BACKUP_TZ, config.BACKUP_KEEP_DAILY, config.BACKUP_KEEP_WEEKLY, config.BACKUP_KEEP_MONTHLY]).toEqual(["0 2 * * *", "UTC", 7, 4, 12]);
    expect(config.BACKUP_DIR).toBeUndefined();
    expect(loadConfig({ BACKUP_CRON: "off", BACKUP_TZ: "Europe/Berlin" })).toMatchObject({ BACKUP_CRON: "off", BACKUP_TZ: "Europe/Berlin" });
    expect(problems({ BACKUP_CRON: "at two", BACKUP_TZ: "Mars/Olympus", BACKUP_KEEP_DAILY: "-1" }).map((p) => p.split(":")[0]).sort()).toEqual([
      "BACKUP_CRON",
      "BACKUP_KEEP_DAILY",
      "BACKUP_TZ",
    ]);
    expect(problems({ BACKUP_S3_ACCESS_KEY_ID: "AKIA", BACKUP_S3_BUCKET: "b" })).toEqual([expect.stringMatching(/^BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY: set both/)]);
    expect(problems({ BACKUP_S3_ENDPOINT: "http://minio:9000" })).toEqual([expect.stringMatching(/^BACKUP_S3_BUCKET: is required/)]);
  });

  it("guards the admin token: long enough, never an API key, never echoed", () => {
    expect(problems({ ADMIN_TOKEN: "short-secret" })).toEqual([expect.stringMatching(/^ADMIN_TOKEN: must be at least 16/)]);
    expect(problems({ ADMIN_TOKEN: "short-secret" }).join("\n")).not.toContain("short-secret");
    expect(problems({ API_KEYS: "acme:the-same-secret-value", ADMIN_TOKEN: "the-same-secret-value" })).toEqual(["ADMIN_TOKEN: must differ from every API key"]);
    expect(loadConfig({ ADMIN_TOKEN: "a-long-enough-admin-token" }).ADMIN_TOKEN).toBe("a-long-enough-admin-token");
  });

  it("reads OUTBOUND_ALLOWLIST and names what it cannot parse", () => {
    expect(loadConfig({ OUTBOUND_ALLOWLIST: "hooks.internal, *.corp.example, 10.0.0.0/8, ::1" }).OUTBOUND_ALLOWLIST).toBe("hooks.internal, *.corp.example, 10.0.0.0/8, ::1");
    expect(problems({ OUTBOUND_ALLOWLIST: "10.0.0.0/99" })).toEqual([expect.stringMatching(/^OUTBOUND_ALLOWLIST: expected host names/)]);
  });

  it("rejects an overlap as large as the chunk", () => {
    expect(problems({ CHUNK_SIZE: "100", CHUNK_OVERLAP: "100" })).toEqual([expect.stringMatching(/^CHUNK_OVERLAP: must be smaller/)]);
  });

  it("reads WORKER_QUEUES and per-queue WORKER_CONCURRENCY", () => {
    const config = loadConfig({ WORKER_QUEUES: "ingest,embed", WORKER_CONCURRENCY: "ingest=3,embed=8" });
    expect(config.WORKER_QUEUES).toEqual(["ingest", "embed"]);
    expect(config.WORKER_CONCURRENCY).toEqual({ ingest: 3, embed: 8 });
    expect(loadConfig({ WORKER_CONCURRENCY: "6" }).WORKER_CONCURRENCY.backup).toBe(6);
    expect(problems({ WORKER_QUEUES: "ingest,parse" })).toEqual([expect.stringContaining("unknown queue(s) parse")]);
    expect(problems({ WORKER_CONCURRENCY: "0" })).toEqual([expect.stringMatching(/^WORKER_CONCURRENCY: must be at least 1/)]);
  });

  it("requires the queue prefix to be a Redis Cluster hash tag", () => {
    expect(problems({ QUEUE_PREFIX: "quarry" })).toEqual([expect.stringContaining("hash tag")]);
  });
});
