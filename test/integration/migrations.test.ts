import { readdirSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import pg from "pg";
import { pino } from "pino";
import { migrate } from "../../shared/db/migrate.ts";
import { createTestEnv } from "../helpers/test-env.ts";

const env = createTestEnv();
afterAll(() => env.cleanup());

describe("migrations", () => {
  it("create the database and apply once when several processes start together", async () => {
    const logger = pino({ level: "silent" });
    const results = await Promise.all([migrate(env.databaseUrl, logger), migrate(env.databaseUrl, logger), migrate(env.databaseUrl, logger)]);
    const files = readdirSync(new URL("../../shared/db/migrations", import.meta.url)).map((f) => f.replace(/\.sql$/, "")).sort();
    expect(files.length).toBeGreaterThan(0);
    expect(results.flat().sort()).toEqual(files);
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    const { rows } = await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    await client.end();
    expect(rows.map((r) => r.table_name)).toEqual(["backups", "callback_attempts", "chat_messages", "chat_sessions", "chunks", "collections", "document_sources", "documents", "files", "idempotency_keys", "job_events", "jobs", "list_tombstones", "outbox", "quarry_migrations", "vector_store_file_batch_files", "vector_store_file_batches", "vector_stores", "workflow_runs", "workflow_steps", "workflow_versions", "workflows"]);
    expect(await migrate(env.databaseUrl, logger)).toEqual([]);
  });
});
