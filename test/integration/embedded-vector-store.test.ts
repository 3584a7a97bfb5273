import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { EmbeddedVectorStore } from "../../shared/vector-store/embedded.vector-store.ts";
import { describeVectorStoreContract } from "./vector-store.contract.ts";

const dir = mkdtempSync(path.join(tmpdir(), "quarry-lance-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeVectorStoreContract("embedded (LanceDB)", async () => new EmbeddedVectorStore(dir));

