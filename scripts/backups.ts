/**
 * `npm run backups -- <command>`: backups without the API or a worker running (only Postgres and
 * the backup storage are needed: BACKUP_DIR or BACKUP_S3_*, as for the services).
 *
 *   list                                   the published backups in storage, newest first
 *   verify <id>                            reads every file of a backup and checks its size and sha256
 *   restore <id> [--collections a,b] [--as-new]
 *                                          restores in place (or beside, --as-new), exactly as the
 *                                          restore job does; on an empty database too (migrations run first)
 *
 * Exit codes: 0 done, 1 failed (the message says why), 64 wrong usage. See docs/operations.md.
 */
import { parseArgs } from "node:util";
import { manifestChecksum, manifestSize, parseQuarryManifest } from "../shared/backup/backup-manifest.ts";
import { restoreBackup } from "../shared/backup/restore-backup.ts";
import { createBackupStorage, createDeps } from "../shared/deps.ts";

/** The hold of a restore run by hand (see below). */
const CLI_RESTORE_JOB_ID = "00000000-0000-4000-8000-00000000c11e";
import { configOrExit, processLogger } from "../shared/lifecycle.ts";

const usage = "usage: npm run backups -- list | verify <id> | restore <id> [--collections <id,…>] [--as-new]\n";
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { collections: { type: "string" }, "as-new": { type: "boolean", default: false } },
});
const [command, backupId] = positionals;
if (!command || !["list", "verify", "restore"].includes(command) || (command !== "list" && !backupId)) {
  process.stderr.write(usage);
  process.exit(64);
}

const config = configOrExit();
const logger = processLogger(config, "backups");
// Listing and verifying read the backup storage only: they work without a database (an off-site copy).
const storage = createBackupStorage(config);
const deps = command === "restore" ? await createDeps(config, logger) : undefined;
const out = (line: string) => process.stdout.write(`${line}\n`);
let code = 0;
try {
  if (command === "list") {
    for (const { id, manifest } of await storage.list()) {
      const parsed = parseQuarryManifest(manifest);
      const what = parsed.ok ? `${parsed.manifest.trigger}, ${parsed.manifest.collections.length} collections, ${parsed.manifest.store.kind} store` : `not a Quarry backup (${parsed.reason})`;
      out(`${id}  ${manifest.createdAt}  ${manifestSize(manifest)} bytes  ${what}  ${manifestChecksum(manifest, id)}`);
    }
    out(`(${storage.location})`);
  } else if (command === "verify") {
    const manifest = await storage.readManifest(backupId!);
    if (!manifest) throw new Error(`backup ${backupId} not found (or not complete) in ${storage.location}`);
    let bad = 0;
    for (const file of manifest.files) {
      const check = await storage.verifyFile(backupId!, file.name, file);
      if (!check.ok) bad++;
      out(`${check.ok ? "ok  " : "BAD "} ${file.name}${check.ok ? "" : ` (${check.reason})`}`);
    }
    out(`${manifest.files.length} files, ${bad} bad; manifest ${manifestChecksum(manifest, backupId!)}`);
    code = bad > 0 ? 1 : 0;
  } else {
    // One id for every restore run by hand: a run that was killed left its hold under this id, and
    // the next run takes it over (then lets go), instead of finding the collection busy for good.
    const jobId = CLI_RESTORE_JOB_ID;
    let busy = false;
    try {
      const result = await restoreBackup(deps!, {
        jobId,
        backupId: backupId!,
        collectionIds: values.collections?.split(",").map((s) => s.trim()).filter(Boolean),
        asNewCollection: values["as-new"],
        checkpoint: async () => undefined,
        progress: async (percent) => logger.info({ percent }, "restore progress"),
      });
      for (const c of result.collections) out(`restored ${c.id} as ${c.restored_as} (${c.name}): ${c.documents} documents, ${c.chunks} chunks, ${c.points} vectors`);
    } catch (err) {
      // Refused because another restore runs: the hold under this id may be that run's.
      busy = (err as { code?: string }).code === "COLLECTION_BUSY";
      throw err;
    } finally {
      if (!busy) await deps!.collections.releaseRestore(jobId);
    }
  }
} catch (err) {
  process.stderr.write(`quarry backups: ${(err as Error).message}\n`);
  code = 1;
} finally {
  await storage.close();
  await deps?.close();
}
process.exit(code);
