import path from "node:path";
import type { Redis } from "ioredis";
import type { Config } from "./config/env.ts";
import { repositories, type Repositories } from "./db/transaction.ts";
import { migrate } from "./db/migrate.ts";
import { createPool, type Db } from "./db/pool.ts";
import type { BackupStorage } from "./backup-storage/backup-storage.ts";
import { LocalBackupStorage } from "./backup-storage/local.backup-storage.ts";
import { S3BackupStorage } from "./backup-storage/s3.backup-storage.ts";
import type { ChatModel } from "./chat-model/chat-model.ts";
import { OutboundClient, parseAllowlist } from "./outbound/outbound-guard.ts";
import { ExtractiveChatModel } from "./chat-model/extractive.chat-model.ts";
import { OpenAIChatModel } from "./chat-model/openai.chat-model.ts";
import { Embedders } from "./embeddings/embedders.ts";
import { createOpenAIClient } from "./embeddings/openai.embedding-provider.ts";
import { safeUrl, type Logger } from "./logging/logger.ts";
import { Metrics } from "./ops/metrics.ts";
import { ParsePool } from "./parsing/sandbox.ts";
import { createRedis } from "./queues/connection.ts";
import { JobProducer } from "./queues/producer.ts";
import { QdrantVectorStore } from "./vector-store/qdrant.vector-store.ts";
import type { VectorStore } from "./vector-store/vector-store.ts";
import { HttpReranker, type Reranker } from "./retrieval/reranker.ts";

/**
 * Everything a process needs from the outside world, built once and closed once. The
 * repositories here run on the pool; a use case that needs a transaction gets its own bound set
 * from `withTransaction(db, (tx) => …)`.
 */
export interface Deps extends Repositories {
  config: Config;
  logger: Logger;
  db: Db;
  /** The producer connection (fails fast); workers open their own blocking connections. */
  redis: Redis;
  producer: JobProducer;
  vectorStore: VectorStore;
  embedders: Embedders;
  /** The chat model: OpenAI-compatible when OPENAI_API_KEY is set, else the extractive answerer. */
  chatModel: ChatModel;
  /** Parse threads; none start until a worker parses its first document. */
  parser: ParsePool;
  /** Where backups go: `BACKUP_S3_BUCKET` when set, else `BACKUP_DIR` (default `DATA_DIR/backups`). */
  backupStorage: BackupStorage;
  /** The only way to call a URL someone else chose (alert webhooks; callbacks and workflow steps to come). */
  outbound: OutboundClient;
  /** This process's Prometheus registry and metrics (served at /metrics), labelled with its service. */
  metrics: Metrics;
  /** The reranker, when `RERANK_URL` is set. */
  reranker?: Reranker;
  close(): Promise<void>;
}

/** Qdrant when `QDRANT_URL` is set, else the embedded store under `DATA_DIR/vectors`. */
export async function createVectorStore(config: Config): Promise<VectorStore> {
  if (config.QDRANT_URL) return new QdrantVectorStore({ url: config.QDRANT_URL, apiKey: config.QDRANT_API_KEY });
  // Loaded only when used: LanceDB's native module does not exist for every platform (no
  // Intel-Mac build), and a deployment on Qdrant must not need it.
  const { EmbeddedVectorStore } = await import("./vector-store/embedded.vector-store.ts");
  return new EmbeddedVectorStore(path.resolve(config.DATA_DIR, "vectors"), { annMinPoints: config.VECTOR_INDEX_MIN_CHUNKS });
}

export function createBackupStorage(config: Config): BackupStorage {
  if (!config.BACKUP_S3_BUCKET) return new LocalBackupStorage({ dir: path.resolve(config.BACKUP_DIR ?? path.join(config.DATA_DIR, "backups")) });
  return new S3BackupStorage({
    bucket: config.BACKUP_S3_BUCKET,
    endpoint: config.BACKUP_S3_ENDPOINT,
    region: config.BACKUP_S3_REGION,
    prefix: config.BACKUP_S3_PREFIX,
    credentials: config.BACKUP_S3_ACCESS_KEY_ID
      ? { accessKeyId: config.BACKUP_S3_ACCESS_KEY_ID, secretAccessKey: config.BACKUP_S3_SECRET_ACCESS_KEY!, sessionToken: config.BACKUP_S3_SESSION_TOKEN }
      : undefined,
  });
}

export function createChatModel(config: Config): ChatModel {
  if (!config.OPENAI_API_KEY) return new ExtractiveChatModel();
  const client = createOpenAIClient({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    timeoutMs: config.CHAT_TIMEOUT_MS,
    maxRetries: config.OPENAI_MAX_RETRIES,
  });
  return new OpenAIChatModel(client, config.CHAT_MODEL, config.CHAT_TIMEOUT_MS);
}

/**
 * Runs migrations (safe when several processes start at once) and connects everything. `service`
 * labels every metric of the process: `api`, `worker`, `scheduler` or `all` (`npm start`).
 */
export async function createDeps(config: Config, logger: Logger, options: { service?: string } = {}): Promise<Deps> {
  await migrate(config.DATABASE_URL, logger);
  const metrics = new Metrics(options.service ?? "quarry");
  const db = createPool(config.DATABASE_URL, (err) => logger.error({ err }, "postgres pool error"));
  const redis = createRedis(config.REDIS_URL, "producer", logger);
  const producer = new JobProducer({ connection: redis, prefix: config.QUEUE_PREFIX, attempts: config.JOB_ATTEMPTS, logger });
  const vectorStore = await createVectorStore(config);
  const backupStorage = createBackupStorage(config);
  const outbound = new OutboundClient({ allowlist: parseAllowlist(config.OUTBOUND_ALLOWLIST) });
  logger.info(
    {
      redis: safeUrl(config.REDIS_URL),
      postgres: safeUrl(config.DATABASE_URL),
      vectorStore: vectorStore.kind === "qdrant" ? safeUrl(config.QDRANT_URL!) : path.resolve(config.DATA_DIR, "vectors"),
      backups: backupStorage.location,
      models: config.OPENAI_API_KEY ? `openai-compatible (${config.OPENAI_BASE_URL ? safeUrl(config.OPENAI_BASE_URL) : "OpenAI"})` : "local embedder, extractive chat",
      reranker: config.RERANK_URL ? `${config.RERANK_MODEL} at ${new URL(config.RERANK_URL).origin}` : "none",
    },
    "dependencies configured",
  );
  const parser = new ParsePool(
    {
      timeoutMs: config.PARSE_TIMEOUT_MS,
      maxMemoryMb: config.PARSE_MAX_MEMORY_MB,
      maxPages: config.MAX_PAGES,
      maxDecompressedBytes: config.MAX_DECOMPRESSED_SIZE,
      ocr: { enabled: config.OCR_ENABLED, languages: config.OCR_LANGUAGES, maxPages: config.OCR_MAX_PAGES },
      ocrPageTimeoutMs: config.OCR_PAGE_TIMEOUT_MS,
    },
    { maxIdle: config.WORKER_CONCURRENCY.ingest ?? 2, observe: (p) => metrics.parsed(p) },
  );
  return {
    config,
    logger,
    db,
    backupStorage,
    outbound,
    redis,
    producer,
    vectorStore,
    embedders: new Embedders(config, metrics.embeddings),
    chatModel: createChatModel(config),
    ...(config.RERANK_URL
      ? { reranker: new HttpReranker({ url: config.RERANK_URL, model: config.RERANK_MODEL!, apiKey: config.RERANK_API_KEY, timeoutMs: config.RERANK_TIMEOUT_MS }) }
      : {}),
    parser,
    metrics,
    ...repositories(db),
    async close() {
      await parser.close();
      await producer.close().catch((err) => logger.warn({ err }, "closing queues failed"));
      redis.disconnect();
      await vectorStore.close().catch((err) => logger.warn({ err }, "closing vector store failed"));
      await backupStorage.close().catch((err) => logger.warn({ err }, "closing backup storage failed"));
      await outbound.close().catch((err) => logger.warn({ err }, "closing the outbound client failed"));
      await db.end();
      metrics.close();
    },
  };
}
