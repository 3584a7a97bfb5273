import { QdrantVectorStore } from "../../shared/vector-store/qdrant.vector-store.ts";
import { describeVectorStoreContract } from "./vector-store.contract.ts";

/**
 * The same contract as the embedded store, against a real Qdrant. Qdrant cannot run on the
 * development machines, so this runs only when QDRANT_URL is set:
 *   docker compose up -d qdrant && QDRANT_URL=http://127.0.0.1:6333 npm test
 */
const url = process.env.QDRANT_URL;

describeVectorStoreContract("qdrant", async () => new QdrantVectorStore({ url: url!, apiKey: process.env.QDRANT_API_KEY }), {
  skip: url ? undefined : "set QDRANT_URL to run it against a real Qdrant",
});
