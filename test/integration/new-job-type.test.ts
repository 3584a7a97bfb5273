import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

/**
 * A new job type is its definition file, its processor file and one line in each index — and the
 * compiler refuses a job type without either. Proven on a copy of the code with a fixture job.
 */
describe("adding a job type", () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "quarry-new-job-"));
    for (const folder of ["api", "shared", "workers", "scheduler"]) cpSync(path.join(ROOT, folder), path.join(dir, folder), { recursive: true });
    symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
    cpSync(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
    const tsconfig = JSON.parse(readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"));
    writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ ...tsconfig, include: ["api", "workers", "scheduler", "shared"] }));

    // The two files.
    writeFileSync(
      path.join(dir, "shared/jobs/summarize-document.job.ts"),
      `import { z } from "zod";
import { defineJob, retried } from "./job-definition.ts";

/** A fixture: summarise a document (a tenant's job, cancellable while it runs). */
export const summarizeDocumentJob = defineJob({
  name: "summarize_document",
  schema: z.object({ tenant_id: z.string(), document_id: z.uuid(), max_words: z.number().int().default(100) }),
  queue: "workflow",
  options: ({ attempts }) => retried(attempts),
  visibility: "tenant",
  cancel: "running",
  retry: true,
});
`,
    );
    writeFileSync(
      path.join(dir, "workers/processors/summarize-document.processor.ts"),
      `import type { Processor } from "../processor.ts";

export const summarizeDocumentProcessor: Processor<"summarize_document"> = async (payload, ctx) => {
  await ctx.checkpoint();
  return { document_id: payload.document_id, words: payload.max_words };
};
`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Adds `line` after the line containing `after` in `file` (relative to the copy). */
  const addLine = (file: string, after: string, line: string) => {
    const full = path.join(dir, file);
    const text = readFileSync(full, "utf8");
    expect(text).toContain(after);
    writeFileSync(full, text.replace(after, `${after}\n${line}`));
  };
  const typecheck = async () =>
    run(path.join(ROOT, "node_modules/.bin/tsc"), ["--noEmit", "-p", path.join(dir, "tsconfig.json")], { cwd: dir }).then(
      () => ({ ok: true, output: "" }),
      (err: { stdout?: string }) => ({ ok: false, output: err.stdout ?? "" }),
    );

  it("refuses a job type that is in the catalog but has no processor", { timeout: 120_000 }, async () => {
    addLine("shared/jobs/index.ts", `import { reembedCollectionJob } from "./reembed-collection.job.ts";`, `import { summarizeDocumentJob } from "./summarize-document.job.ts";`);
    addLine("shared/jobs/index.ts", `  reembed_collection: reembedCollectionJob,`, `  summarize_document: summarizeDocumentJob,`);
    const result = await typecheck();
    expect(result.ok).toBe(false);
    const errors = result.output.split("\n").filter((l) => /error TS/.test(l));
    // The complaints: the processors index lacks the new type, so the dispatch that indexes it cannot either.
    expect(errors.some((l) => l.startsWith("workers/processors/index.ts"))).toBe(true);
    expect(errors.filter((l) => !/^workers\/(processors\/index|run-processor)\.ts/.test(l))).toEqual([]);
    expect(result.output).toContain("summarize_document");
  });

  it("compiles once the processor has its line: nothing else in the code base names the new type", { timeout: 120_000 }, async () => {
    addLine(
      "workers/processors/index.ts",
      `import { reembedCollectionProcessor } from "./reembed-collection.processor.ts";`,
      `import { summarizeDocumentProcessor } from "./summarize-document.processor.ts";`,
    );
    addLine("workers/processors/index.ts", `  reembed_collection: reembedCollectionProcessor,`, `  summarize_document: summarizeDocumentProcessor,`);
    const result = await typecheck();
    expect(result.output).toBe("");
    expect(result.ok).toBe(true);
    // …and the catalog, not a list kept by hand, is what /v1/jobs?type and the OpenAPI enum read.
    const { PUBLIC_JOB_NAMES, QUEUES_IN_USE, jobCatalog } = await import(path.join(dir, "shared/jobs/index.ts"));
    expect(PUBLIC_JOB_NAMES).toContain("summarize_document");
    expect([...QUEUES_IN_USE]).toContain("workflow");
    expect(jobCatalog.summarize_document.cancel).toBe("running");
  });
});
