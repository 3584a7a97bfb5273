import { z } from "zod";
import { allowlistProblem } from "../outbound/outbound-guard.ts";
import { missingOcrLanguages } from "../parsing/ocr/ocr-languages.ts";

/** Queues a worker process can serve (`WORKER_QUEUES`). */
export const QUEUE_NAMES = ["ingest", "embed", "backup", "workflow"] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** The development key used when `API_KEYS` is unset outside production. */
export const DEV_API_KEY = "quarry-dev-key";
export const DEV_TENANT = "dev";
/** The tenant of operator jobs (backups, restores). Not a valid API_KEYS tenant, so no key reads them. */
export const OPS_TENANT = "@ops";

const MB = 1024 * 1024;
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const apiKeys = z
  .string()
  .trim()
  .transform((raw, ctx) => {
    const keys = new Map<string, string>();
    for (const pair of raw.split(",").map((p) => p.trim()).filter(Boolean)) {
      const sep = pair.indexOf(":");
      const tenant = pair.slice(0, sep).trim();
      const key = pair.slice(sep + 1).trim();
      if (sep <= 0 || !tenant || key.length < 8 || !/^[\w.-]+$/.test(tenant)) {
        ctx.addIssue({ code: "custom", message: "expected comma-separated tenant:key pairs (tenant: letters, digits, _ . -; key: 8+ characters)" });
        return z.NEVER;
      }
      if (keys.has(key)) {
        ctx.addIssue({ code: "custom", message: "the same key is given to two tenants" });
        return z.NEVER;
      }
      keys.set(key, tenant);
    }
    return keys;
  });

const concurrency = z
  .string()
  .trim()
  .transform((raw, ctx) => {
    const out: Partial<Record<QueueName, number>> = {};
    if (raw === "") return out;
    if (/^\d+$/.test(raw)) {
      if (Number(raw) < 1) {
        ctx.addIssue({ code: "custom", message: "must be at least 1" });
        return z.NEVER;
      }
      for (const q of QUEUE_NAMES) out[q] = Number(raw);
      return out;
    }
    for (const part of raw.split(",")) {
      const [name, value] = part.split("=").map((s) => s.trim());
      if (!QUEUE_NAMES.includes(name as QueueName) || !value || !/^\d+$/.test(value) || Number(value) < 1) {
        ctx.addIssue({ code: "custom", message: `expected a number or queue=number pairs (queues: ${QUEUE_NAMES.join(", ")})` });
        return z.NEVER;
      }
      out[name as QueueName] = Number(value);
    }
    return out;
  });

const queueList = z
  .string()
  .trim()
  .transform((raw, ctx) => {
    if (raw === "" || raw === "all") return [...QUEUE_NAMES];
    const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
    const bad = names.filter((n) => !QUEUE_NAMES.includes(n as QueueName));
    if (bad.length > 0) {
      ctx.addIssue({ code: "custom", message: `unknown queue(s) ${bad.join(", ")}; expected "all" or some of ${QUEUE_NAMES.join(", ")}` });
      return z.NEVER;
    }
    return [...new Set(names)] as QueueName[];
  });

const base = z.object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    PORT: int(0, 65535).default(8000),
    HOST: z.string().min(1).default("0.0.0.0"),
    OPS_PORT: int(0, 65535).optional(),
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).default("redis://127.0.0.1:6379"),
    QUEUE_PREFIX: z
      .string()
      .regex(/^\{[\w.:-]+\}$/, "expected a Redis Cluster hash tag such as {quarry}")
      .default("{quarry}"),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default("postgres://postgres@127.0.0.1:5432/quarry"),
    DATA_DIR: z.string().min(1).default("./data"),
    API_KEYS: apiKeys.optional(),
    ADMIN_TOKEN: optionalString.pipe(z.string().min(16, "must be at least 16 characters (it guards backups and restores)").optional()),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    OPENAI_API_KEY: optionalString,
    OPENAI_BASE_URL: optionalString.pipe(z.url().optional()),
    EMBEDDING_MODEL: z.string().min(1).default("text-embedding-3-small"),
    EMBEDDING_DIMENSIONS: int(1, 8192).optional(),
    CHAT_MODEL: z.string().min(1).default("gpt-4.1-mini"),
    QDRANT_URL: optionalString.pipe(z.url().optional()),
    QDRANT_API_KEY: optionalString,
    VECTOR_MAINTENANCE_EVERY_MS: int(60_000).default(15 * 60_000),
    /** A collection written to is maintained at the end of each such window (0: only on schedule). */
    VECTOR_MAINTENANCE_AFTER_WRITES_MS: int(0).default(10_000),
    /** A semantic collection gets an ANN index on the embedded store from this many chunks on. */
    VECTOR_INDEX_MIN_CHUNKS: int(1000).default(20_000),
    /** Weights of the two lists reciprocal rank fusion adds up in hybrid search. */
    HYBRID_VECTOR_WEIGHT: z.coerce.number().min(0).max(100).default(1),
    HYBRID_KEYWORD_WEIGHT: z.coerce.number().min(0).max(100).default(1),
    /** A Jina- or Cohere-compatible rerank endpoint, e.g. https://api.jina.ai/v1/rerank. */
    RERANK_URL: optionalString.pipe(
      z
        .url({ protocol: /^https?$/ })
        .refine((u) => !new URL(u).username && !new URL(u).password, "must not hold credentials; put the key in RERANK_API_KEY")
        .optional(),
    ),
    RERANK_MODEL: optionalString,
    RERANK_API_KEY: optionalString,
    RERANK_TIMEOUT_MS: int(100).default(3000),
    /** How many of the best candidates the reranker reorders (at least top_k). */
    RERANK_CANDIDATES: int(1, 1000).default(30),
    /** Search queries whose vectors each process keeps, all models together (0: none). */
    QUERY_EMBEDDING_CACHE: int(0, 100_000).default(1000),
    WORKER_QUEUES: queueList.prefault("all"),
    WORKER_CONCURRENCY: concurrency.prefault(""),
    MAX_FILE_SIZE: int(1).default(10 * MB),
    CHUNK_SIZE: int(50, 8000).default(800),
    CHUNK_OVERLAP: int(0, 4000).default(200),
    MAX_HISTORY_MESSAGES: int(0, 200).default(10),
    MAX_PAGES: int(1).default(2000),
    MAX_DECOMPRESSED_SIZE: int(1).default(200 * MB),
    PARSE_TIMEOUT_MS: int(1000).default(120_000),
    PARSE_MAX_MEMORY_MB: int(64, 16_384).default(1024),
    /** OCR of image-only PDF pages and of uploaded images (tesseract.js); false: they end NO_TEXT / are refused, as before. */
    OCR_ENABLED: z
      .enum(["true", "false", "1", "0", ""])
      .default("true")
      .transform((v) => v !== "false" && v !== "0"),
    /** Tesseract languages, `+`- or comma-separated; each needs its `@tesseract.js-data/<lang>` package installed. */
    OCR_LANGUAGES: z
      .string()
      .trim()
      .default("eng")
      .transform((raw, ctx) => {
        const langs = [...new Set(raw.split(/[+,\s]+/).filter(Boolean))];
        const bad = langs.filter((l) => !/^[a-z_]{3,12}$/i.test(l));
        if (langs.length === 0 || bad.length > 0) {
          ctx.addIssue({ code: "custom", message: `expected tesseract language codes such as "eng" or "eng+deu"${bad.length ? ` (not: ${bad.join(", ")})` : ""}` });
          return z.NEVER;
        }
        return langs;
      }),
    /** Pages OCRed per document at most; pages past it are skipped and the document says so. */
    OCR_MAX_PAGES: int(1, 10_000).default(50),
    /** Each page OCR starts on may take this long on top of PARSE_TIMEOUT_MS (then PARSE_TIMEOUT). */
    OCR_PAGE_TIMEOUT_MS: int(1000).default(60_000),
    /** URL ingestion: how long a fetch may take, all redirects included. Its size limit is MAX_FILE_SIZE. */
    URL_FETCH_TIMEOUT_MS: int(1000).default(30_000),
    EMBED_BATCH_SIZE: int(1, 2048).default(128),
    EMBED_RATE_LIMIT_RPM: int(0).default(0),
    EMBED_RATE_LIMIT_TPM: int(0).default(0),
    OPENAI_TIMEOUT_MS: int(1000).default(60_000),
    OPENAI_MAX_RETRIES: int(0, 10).default(2),
    CHAT_TIMEOUT_MS: int(1000).default(60_000),
    CHAT_TEMPERATURE: z.coerce.number().min(0).max(2).default(0.3),
    JOB_ATTEMPTS: int(1, 50).default(5),
    SHUTDOWN_TIMEOUT_MS: int(1000).default(30_000),
    WORKER_LOCK_DURATION_MS: int(1000).default(60_000),
    CORS_ORIGINS: optionalString,
    BACKUP_DIR: optionalString,
    /** A cron pattern (5 or 6 fields), or "off" to take no scheduled backups. */
    BACKUP_CRON: z
      .string()
      .trim()
      .default("0 2 * * *")
      .refine((v) => v === "off" || /^\S+(\s+\S+){4,5}$/.test(v), 'expected a cron pattern such as "0 2 * * *", or "off"'),
    BACKUP_TZ: z
      .string()
      .trim()
      .default("UTC")
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat("en-US", { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, "expected an IANA time zone such as UTC or Europe/Berlin"),
    BACKUP_KEEP_DAILY: int(0, 10_000).default(7),
    BACKUP_KEEP_WEEKLY: int(0, 10_000).default(4),
    BACKUP_KEEP_MONTHLY: int(0, 10_000).default(12),
    BACKUP_S3_BUCKET: optionalString,
    BACKUP_S3_ENDPOINT: optionalString.pipe(z.url().optional()),
    BACKUP_S3_REGION: optionalString,
    BACKUP_S3_PREFIX: optionalString,
    BACKUP_S3_ACCESS_KEY_ID: optionalString,
    BACKUP_S3_SECRET_ACCESS_KEY: optionalString,
    BACKUP_S3_SESSION_TOKEN: optionalString,
    /** Signs job callbacks (Standard Webhooks): `whsec_` and the base64 of 24–64 random bytes. */
    WEBHOOK_SECRET: optionalString.pipe(
      z
        .string()
        .regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, "expected whsec_ and the base64 of 24 to 64 random bytes (openssl rand -base64 32)")
        .optional(),
    ),
    ALERT_WEBHOOK_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    /** Hosts, *.suffixes, addresses and CIDR ranges outbound calls may reach although they are not public. */
    OUTBOUND_ALLOWLIST: optionalString.superRefine((raw, ctx) => {
      const problem = allowlistProblem(raw);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    /** Bull Board (`/admin/queues`) shows the queues but offers no retry, clean, promote or remove. */
    BULL_BOARD_READ_ONLY: z
      .enum(["true", "false", "1", "0", ""])
      .default("false")
      .transform((v) => v === "true" || v === "1"),
    /** Requests per minute per API key, by kind (0 = no limit): uploads; search, chat and embeddings; everything else. */
    RATE_LIMIT_UPLOADS: int(0).default(0),
    RATE_LIMIT_QUERIES: int(0).default(0),
    RATE_LIMIT_REQUESTS: int(0).default(0),
    /** Ingest jobs are prioritized by their tenant's backlog, so one tenant's flood does not starve another's document. */
    TENANT_FAIR_QUEUING: z
      .enum(["true", "false", "1", "0", ""])
      .default("true")
      .transform((v) => v !== "false" && v !== "0"),
    /** Documents of one tenant waiting or being ingested at once, and their bytes (0 = no cap). */
    TENANT_MAX_QUEUED_DOCUMENTS: int(0).default(0),
    TENANT_MAX_QUEUED_BYTES: int(0).default(0),
    /** A workflow run's `timeout_s` when its definition gives none. */
    DEFAULT_WORKFLOW_TIMEOUT: int(1, 24 * 3600).default(300),
    /** Retries of a workflow step after its first attempt: the default, and the most a definition may ask. */
    MAX_WORKFLOW_RETRIES: int(0, 10).default(3),
});

const schema = base.superRefine((env, ctx) => {
  if (env.CHUNK_OVERLAP >= env.CHUNK_SIZE) {
    ctx.addIssue({ code: "custom", path: ["CHUNK_OVERLAP"], message: `must be smaller than CHUNK_SIZE (${env.CHUNK_SIZE})` });
  }
  if (env.HYBRID_VECTOR_WEIGHT + env.HYBRID_KEYWORD_WEIGHT === 0) {
    ctx.addIssue({ code: "custom", path: ["HYBRID_KEYWORD_WEIGHT"], message: "HYBRID_VECTOR_WEIGHT and HYBRID_KEYWORD_WEIGHT cannot both be 0" });
  }
  const missingLanguages = env.OCR_ENABLED ? missingOcrLanguages(env.OCR_LANGUAGES) : [];
  if (missingLanguages.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["OCR_LANGUAGES"],
      message: `no traineddata installed for ${missingLanguages.join(", ")}: npm install ${missingLanguages.map((l) => `@tesseract.js-data/${l}@1`).join(" ")}, or set OCR_ENABLED=false`,
    });
  }
  if (env.RERANK_URL && !env.RERANK_MODEL) {
    ctx.addIssue({ code: "custom", path: ["RERANK_MODEL"], message: "is required when RERANK_URL is set (e.g. jina-reranker-v2-base-multilingual, rerank-v3.5)" });
  }
});

/** Rules on raw values, checked even when other variables are invalid (zod skips refinements then). */
function crossChecks(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  if (env.NODE_ENV === "production" && !env.API_KEYS?.trim()) problems.push("API_KEYS: is required when NODE_ENV=production");
  const admin = env.ADMIN_TOKEN?.trim();
  if (admin && (env.API_KEYS ?? "").split(",").some((pair) => pair.slice(pair.indexOf(":") + 1).trim() === admin)) {
    problems.push("ADMIN_TOKEN: must differ from every API key");
  }
  if (!env.BACKUP_S3_ACCESS_KEY_ID?.trim() !== !env.BACKUP_S3_SECRET_ACCESS_KEY?.trim()) {
    problems.push("BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY: set both, or neither (the AWS SDK's default credentials then apply)");
  }
  if (!env.BACKUP_S3_BUCKET?.trim() && Object.keys(env).some((k) => k.startsWith("BACKUP_S3_") && env[k]?.trim())) {
    problems.push("BACKUP_S3_BUCKET: is required when another BACKUP_S3_* variable is set");
  }
  return problems;
}

export type Config = Readonly<
  Omit<z.infer<typeof schema>, "API_KEYS"> & {
    /** key → tenant */
    API_KEYS: ReadonlyMap<string, string>;
    /** true when API_KEYS was unset and the development key is in use */
    usingDevApiKey: boolean;
  }
>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * Parses and validates the environment once. The only reader of `process.env` in the code base.
 * Throws {@link ConfigError} naming every bad variable and what it expected.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(base.shape).map((k) => [k, env[k] === "" && k !== "WORKER_CONCURRENCY" ? undefined : env[k]]),
  );
  const parsed = schema.safeParse(known);
  const problems = [
    ...(parsed.success
      ? []
      : parsed.error.issues.map((issue) => {
          const name = String(issue.path[0] ?? "environment");
          const value = env[name];
          const shown = value === undefined || /KEY|TOKEN|SECRET|PASSWORD|URL/.test(name) ? "" : ` (got "${value}")`;
          return `${name}: ${issue.message}${shown}`;
        })),
    ...crossChecks(known),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const usingDevApiKey = !parsed.data.API_KEYS || parsed.data.API_KEYS.size === 0;
  // `API_KEYS=","` parses to no keys at all: production must never fall back to the development key.
  if (usingDevApiKey && parsed.data.NODE_ENV === "production") throw new ConfigError(["API_KEYS: is required when NODE_ENV=production (no tenant:key pair given)"]);
  const keys = usingDevApiKey ? new Map([[DEV_API_KEY, DEV_TENANT]]) : parsed.data.API_KEYS!;
  return Object.freeze({ ...parsed.data, API_KEYS: keys, usingDevApiKey });
}
