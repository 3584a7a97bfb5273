import { Router } from "express";
import { z } from "zod";
import { isBackupId } from "../../shared/backup-storage/backup-storage.ts";
import { acceptCallbackUrl, callbackUrlField } from "../../shared/callbacks/callback-url.ts";
import { OPS_TENANT } from "../../shared/config/env.ts";
import type { Deps } from "../../shared/deps.ts";
import { AppError } from "../../shared/errors/app-error.ts";
import { presentJob } from "../../shared/presenters.ts";
import { getBackup, listBackups, presentBackupRow, requestBackup, requestRestore } from "../../shared/use-cases/backups.ts";
import { requireAdmin } from "../middleware/admin-auth.ts";
import { idempotency } from "../middleware/idempotency.ts";
import { jsonBody } from "../middleware/json-body.ts";
import { validate } from "../middleware/validate.ts";

const collectionIds = z.array(z.uuid()).min(1).max(10_000).optional();

export const createBackupBody = z.strictObject({
  /** Only these collections (any tenant's); every active collection when absent. */
  collection_ids: collectionIds,
  callback_url: callbackUrlField,
});

export const restoreBody = z.strictObject({
  /** Only these collections of the backup; all of them when absent. */
  collection_ids: collectionIds,
  /** Restore beside the live collections, as new ones named "<name> (restored <backup id>)", instead of replacing them. */
  as_new_collection: z.boolean().default(false),
  callback_url: callbackUrlField,
});

function backupIdParam(value: string | string[] | undefined): string {
  if (typeof value !== "string" || !isBackupId(value)) throw new AppError("BACKUP_NOT_FOUND", "backup not found", { httpStatus: 404 });
  return value;
}

/** The operator's backup routes (ADMIN_TOKEN). Backup and restore jobs are read at /v1/jobs/:id with the same token. */
export function backupsRoutes(deps: Deps): Router {
  const router = Router();
  router.use("/v1/backups", requireAdmin(deps.config.ADMIN_TOKEN), ...jsonBody({ limit: 1024 * 1024 }), idempotency(deps, { tenant: OPS_TENANT }));

  router.post("/v1/backups", async (req, res) => {
    const body = validate(createBackupBody, req.body ?? {});
    const callbackUrl = await acceptCallbackUrl(deps, body.callback_url);
    const { backup, job } = await requestBackup(deps, { trigger: "manual", collectionIds: body.collection_ids?.map((id) => id.toLowerCase()), callbackUrl });
    res.status(202).location(`/v1/jobs/${job!.id}`).json({ backup: presentBackupRow(backup), job: presentJob(job!) });
  });

  router.get("/v1/backups", async (_req, res) => {
    res.json({ data: await listBackups(deps) });
  });

  router.get("/v1/backups/:id", async (req, res) => {
    res.json(await getBackup(deps, backupIdParam(req.params.id)));
  });

  router.post("/v1/backups/:id/restore", async (req, res) => {
    const id = backupIdParam(req.params.id);
    const body = validate(restoreBody, req.body ?? {});
    const callbackUrl = await acceptCallbackUrl(deps, body.callback_url);
    const job = await requestRestore(deps, id, { collectionIds: body.collection_ids?.map((c) => c.toLowerCase()), asNewCollection: body.as_new_collection, callbackUrl });
    res.status(202).location(`/v1/jobs/${job.id}`).json({ job: presentJob(job) });
  });

  return router;
}
