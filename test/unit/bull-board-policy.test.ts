import type { NextFunction, Request, Response } from "express";
import { describe, expect, it } from "vitest";
import { bullBoardPolicy } from "../../api/middleware/bull-board-policy.ts";
import type { Deps } from "../../shared/deps.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ID = "0b6f3c1e-5d7a-4a4e-9a57-2f0f8a9c1d11";
const OWNER = "9a1f3c1e-5d7a-4a4e-9a57-2f0f8a9c1d22";

interface FakeJob {
  name: string;
  state: string;
  attemptsMade?: number;
  data?: Json;
}

/** Deps with one BullMQ job (any queue) and one job record, as the policy reads them. */
function fakeDeps(job: FakeJob | undefined, recordStatus = "failed"): Deps {
  const bullJob = job && { id: ID, name: job.name, data: job.data ?? {}, attemptsMade: job.attemptsMade ?? 1, getState: async () => job.state };
  return {
    producer: { queue: () => ({ getJob: async (id: string) => (id === ID ? bullJob : undefined) }) },
    jobs: { findById: async () => ({ id: ID, status: recordStatus }) },
  } as unknown as Deps;
}

/** Runs the policy on one request: `next` (passed on to Bull Board) or the refusal it answered. */
async function decide(deps: Deps, method: string, path: string, readOnly = false): Promise<"next" | { status: number; body: Json }> {
  let answer: "next" | { status: number; body: Json } | undefined;
  const res = {
    status(code: number) {
      return { json: (body: Json) => void (answer = { status: code, body }) };
    },
  } as unknown as Response;
  const req = { method, path, baseUrl: "/admin/queues" } as Request;
  await bullBoardPolicy(deps, readOnly)(req, res, (() => void (answer = "next")) as NextFunction);
  return answer!;
}

const code = (answer: Awaited<ReturnType<typeof decide>>) => (answer === "next" ? "next" : `${answer.status} ${answer.body.error.code}`);

describe("Bull Board's write policy", () => {
  it("lets reads through, and in read-only mode nothing else", async () => {
    const deps = fakeDeps({ name: "optimize_vectors", state: "failed" });
    expect(await decide(deps, "GET", "/api/queues")).toBe("next");
    expect(await decide(deps, "GET", "/api/queues", true)).toBe("next");
    for (const path of ["/api/queues/ingest/pause", `/api/queues/ingest/${ID}/retry`, "/api/queues/ingest/clean/completed"]) {
      expect(code(await decide(deps, "PUT", path, true))).toBe("403 BULL_BOARD_READ_ONLY");
    }
  });

  it("retries only failed jobs that have no record and work for no other job", async () => {
    const retry = (job: FakeJob) => decide(fakeDeps(job), "PUT", `/api/queues/ingest/${ID}/retry`).then(code);
    expect(await retry({ name: "optimize_vectors", state: "failed" })).toBe("next");
    expect(await retry({ name: "prune_backups", state: "failed" })).toBe("next");
    expect(await retry({ name: "optimize_vectors", state: "completed" })).toBe("409 BULL_BOARD_JOB_REFUSED");
    expect(await retry({ name: "ingest_document", state: "failed" })).toBe("409 BULL_BOARD_JOB_REFUSED");
    expect(await retry({ name: "create_backup", state: "failed" })).toBe("409 BULL_BOARD_JOB_REFUSED");
    const batch = await decide(fakeDeps({ name: "embed_chunks", state: "failed", data: { parent_job_id: OWNER } }), "PUT", `/api/queues/embed/${ID}/retry`);
    expect(batch).toMatchObject({ status: 409, body: { error: { message: expect.stringContaining(`POST /v1/jobs/${OWNER}/retry`) } } });
  });

  it("removes only completed or failed jobs, and a failed one only once its record has heard", async () => {
    const clean = (job: FakeJob, record?: string) => decide(fakeDeps(job, record), "PUT", `/api/queues/ingest/${ID}/clean`).then(code);
    expect(await clean({ name: "ingest_document", state: "completed" }, "succeeded")).toBe("next");
    expect(await clean({ name: "ingest_document", state: "failed" }, "failed")).toBe("next");
    expect(await clean({ name: "ingest_document", state: "failed" }, "running")).toBe("409 BULL_BOARD_JOB_REFUSED");
    expect(await clean({ name: "ingest_document", state: "waiting" })).toBe("409 BULL_BOARD_JOB_REFUSED");
    expect(await clean({ name: "embed_chunks", state: "delayed", data: { parent_job_id: OWNER } })).toBe("409 BULL_BOARD_JOB_REFUSED");
    expect(await clean({ name: "embed_chunks", state: "failed", data: { parent_job_id: OWNER } }, "running")).toBe("next");
  });

  it("promotes a job out of its retry's backoff, never a timer such as a workflow's deadline", async () => {
    const promote = (job: FakeJob) => decide(fakeDeps(job), "PUT", `/api/queues/workflow/${ID}/promote`).then(code);
    expect(await promote({ name: "workflow_step", state: "delayed", attemptsMade: 1 })).toBe("next");
    expect(await promote({ name: "workflow_deadline", state: "delayed", attemptsMade: 0 })).toBe("409 BULL_BOARD_JOB_REFUSED");
    expect(await promote({ name: "workflow_step", state: "waiting", attemptsMade: 1 })).toBe("409 BULL_BOARD_JOB_REFUSED");
  });

  it("passes unknown jobs and queues on to Bull Board's own 404, and refuses everything it does not know", async () => {
    const deps = fakeDeps(undefined);
    expect(await decide(deps, "PUT", `/api/queues/ingest/${ID}/retry`)).toBe("next");
    expect(await decide(deps, "PUT", `/api/queues/nope/${ID}/retry`)).toBe("next");
    expect(await decide(deps, "PUT", "/api/queues/pause")).toBe("next");
    expect(await decide(deps, "PUT", "/api/queues/ingest/resume/")).toBe("next");
    for (const [method, path] of [
      ["PUT", "/api/queues/ingest/retry/failed"],
      ["PUT", "/api/queues/ingest/clean/retry"],
      ["PUT", "/api/queues/ingest/%63lean/failed"],
      ["PUT", "/api/queues/ingest/promote"],
      ["PUT", "/api/queues/ingest/rate-limit/release"],
      ["POST", "/api/metrics/history/purge"],
      ["DELETE", `/api/queues/ingest/${ID}`],
      ["PATCH", `/api/queues/ingest/${ID}/delay`],
    ]) {
      expect(code(await decide(deps, method!, path!)), `${method} ${path}`).toBe("403 BULL_BOARD_ACTION_REFUSED");
    }
  });
});
