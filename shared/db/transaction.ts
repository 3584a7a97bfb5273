import type pg from "pg";
import { BackupsRepository } from "./backups.repository.ts";
import { ChatRepository } from "./chat.repository.ts";
import { ChunksRepository } from "./chunks.repository.ts";
import { CollectionsRepository } from "./collections.repository.ts";
import { DocumentsRepository } from "./documents.repository.ts";
import { FilesRepository } from "./files.repository.ts";
import { IdempotencyRepository } from "./idempotency.repository.ts";
import { JobsRepository } from "./jobs.repository.ts";
import { OutboxRepository } from "./outbox.repository.ts";
import type { Db } from "./pool.ts";
import { VectorStoresRepository } from "./vector-stores.repository.ts";
import { WorkflowsRepository } from "./workflows.repository.ts";
import type { Queryable } from "./queryable.ts";

/** Every Postgres repository, bound to one connection: the pool, or a transaction's client. */
export interface Repositories {
  collections: CollectionsRepository;
  documents: DocumentsRepository;
  chunks: ChunksRepository;
  jobs: JobsRepository;
  chat: ChatRepository;
  outbox: OutboxRepository;
  backups: BackupsRepository;
  workflows: WorkflowsRepository;
  idempotency: IdempotencyRepository;
  files: FilesRepository;
  vectorStores: VectorStoresRepository;
}

export function repositories(q: Queryable): Repositories {
  return {
    collections: new CollectionsRepository(q),
    documents: new DocumentsRepository(q),
    chunks: new ChunksRepository(q),
    jobs: new JobsRepository(q),
    chat: new ChatRepository(q),
    outbox: new OutboxRepository(q),
    backups: new BackupsRepository(q),
    workflows: new WorkflowsRepository(q),
    idempotency: new IdempotencyRepository(q),
    files: new FilesRepository(q),
    vectorStores: new VectorStoresRepository(q),
  };
}

/** The repositories of one open transaction, and what must happen before it commits. */
export interface Transaction extends Repositories {
  client: pg.PoolClient;
  /**
   * Runs `fn` after the transaction's work and before COMMIT; when it throws, the transaction
   * rolls back. Used to enqueue a recorded job: Redis refusing it undoes the whole request.
   */
  beforeCommit(fn: () => Promise<void>): void;
}

/** Runs `fn` in one transaction with repositories bound to it; rolls back when anything throws. */
export async function withTransaction<T>(db: Db, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  const client = await db.connect();
  const pending: Array<() => Promise<void>> = [];
  let broken = false;
  try {
    await client.query("BEGIN");
    const result = await fn({ ...repositories(client), client, beforeCommit: (f) => void pending.push(f) });
    for (const f of pending) await f();
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {
      broken = true; // the connection is gone: do not hand it back to the pool
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
