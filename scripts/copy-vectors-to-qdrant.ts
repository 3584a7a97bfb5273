/**
 * `npm run vectors:copy-to-qdrant`: copies every collection's vectors from the embedded store
 * (DATA_DIR/vectors) to Qdrant (QDRANT_URL) without re-embedding, then checks the counts.
 * Stop the workers first (or at least stop uploads): points written meanwhile are not copied.
 * Afterwards start every process with QDRANT_URL set. See docs/operations.md.
 */
import path from "node:path";
import { CollectionsRepository } from "../shared/db/collections.repository.ts";
import { createPool } from "../shared/db/pool.ts";
import { configOrExit } from "../shared/lifecycle.ts";
import { copyVectors } from "../shared/use-cases/copy-vectors.ts";
import { EmbeddedVectorStore } from "../shared/vector-store/embedded.vector-store.ts";
import { QdrantVectorStore } from "../shared/vector-store/qdrant.vector-store.ts";

const config = configOrExit();
if (!config.QDRANT_URL) {
  process.stderr.write("quarry: set QDRANT_URL to the Qdrant to copy into\n");
  process.exit(78);
}
const db = createPool(config.DATABASE_URL, (err) => process.stderr.write(`postgres: ${err.message}\n`), 2);
const source = new EmbeddedVectorStore(path.resolve(config.DATA_DIR, "vectors"));
const target = new QdrantVectorStore({ url: config.QDRANT_URL, apiKey: config.QDRANT_API_KEY });
let failed = 0;
try {
  const collections = await new CollectionsRepository(db).listAllActive();
  for (const c of collections) {
    const ref = { tenantId: c.tenant_id, collectionId: c.id, version: c.vector_version };
    const result = await copyVectors(source, target, ref, c.embedding.dimensions);
    const ok = result.targetCount === result.sourceCount;
    if (!ok) failed++;
    process.stdout.write(`${ok ? "ok  " : "DIFF"} ${c.tenant_id}/${c.name} (${c.id}): ${result.copied} copied, ${result.sourceCount} in embedded, ${result.targetCount} in Qdrant\n`);
  }
  process.stdout.write(`${collections.length} collections, ${failed} with different counts\n`);
} finally {
  await source.close();
  await target.close();
  await db.end();
}
process.exit(failed > 0 ? 1 : 0);
