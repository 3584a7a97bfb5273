import { z } from "zod";
import { KEEP_REASONS } from "../backup/retention.ts";
import { failure, timestamp, uuid } from "./common.schema.ts";
import { job } from "./job.schema.ts";

export const backupCollection = z.object({
  id: uuid,
  tenant_id: z.string(),
  name: z.string(),
  documents: z.int().min(0),
  chunks: z.int().min(0),
  points: z.int().min(0),
});

/** A backup: published ones come from storage (a fresh install lists them too), running and failed ones from Postgres. */
export const backup = z.object({
  id: z.string().meta({ examples: ["20261124T020000Z-nightly"] }),
  trigger: z.enum(["scheduled", "manual"]),
  scope: z.enum(["all", "some"]).describe("every active collection, or those asked for"),
  status: z.enum(["running", "succeeded", "failed"]),
  created_at: timestamp,
  finished_at: timestamp.nullable(),
  size_bytes: z.number().min(0).nullable(),
  collections: z.array(backupCollection),
  checksum: z.string().nullable().describe("sha256:<hex> of the manifest, which holds the sha256 of every file"),
  retention_class: z
    .enum([...KEEP_REASONS, "partial"])
    .nullable()
    .describe("why retention keeps it: the longest-lived reason, or partial (a backup of some collections, kept BACKUP_KEEP_DAILY days); null when the next pruning deletes it"),
  job_id: uuid.nullable(),
  error: failure.optional(),
});

export const backupList = z.object({ data: z.array(backup) });

/** `POST /v1/backups` answers the backup and its job. */
export const backupAccepted = z.object({ backup, job });
