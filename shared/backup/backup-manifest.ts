import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { manifestText, type BackupFileEntry, type BackupManifest } from "../backup-storage/backup-storage.ts";
import { embeddingSpecSchema } from "../jobs/embedding-spec.ts";

export const BACKUP_FORMAT = "quarry.backup";
export const BACKUP_FORMAT_VERSION = 1;

/** Quarry's own version (package.json), recorded in every manifest. */
export const QUARRY_VERSION: string = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** One collection of a backup: where its files are, and what a restore must find in them. */
export const backupCollectionSchema = z.object({
  id: z.uuid(),
  tenant_id: z.string().min(1),
  name: z.string().min(1),
  embedding: embeddingSpecSchema,
  /** The generation the vectors were read from (a restore writes its own). */
  vector_version: z.int().min(0),
  documents: z.int().min(0),
  chunks: z.int().min(0),
  points: z.int().min(0),
  /** The records file (gzipped NDJSON, see shared/backup/collection-records.ts). */
  records: z.string(),
  /** The folder of the vector snapshot's files; null when the collection had no ready document. */
  vectors: z.string().nullable(),
  /** `pg_current_snapshot()` of the records' read, and when it was taken. */
  pg_snapshot: z.string(),
  read_at: z.string(),
});
export type BackupCollection = z.infer<typeof backupCollectionSchema>;

const quarryManifestSchema = z.looseObject({
  format: z.literal(BACKUP_FORMAT),
  format_version: z.literal(BACKUP_FORMAT_VERSION),
  id: z.string(),
  createdAt: z.iso.datetime({ offset: true }),
  trigger: z.enum(["scheduled", "manual"]),
  /** Every active collection, or some (a manual backup with collection_ids): retention treats them apart. */
  scope: z.enum(["all", "some"]).default("all"),
  quarry_version: z.string(),
  store: z.object({ kind: z.enum(["embedded", "qdrant"]) }),
  collections: z.array(backupCollectionSchema),
  files: z.array(z.object({ name: z.string(), sha256: z.string(), size: z.number() })),
});

/** What Quarry writes as a backup's `manifest.json` (the storage needs only `createdAt` and `files`). */
export type QuarryManifest = z.infer<typeof quarryManifestSchema> & BackupManifest & { files: BackupFileEntry[] };

/** A stored manifest read as Quarry's; a manifest Quarry did not write (or cannot read) is refused with a reason. */
export function parseQuarryManifest(manifest: BackupManifest): { ok: true; manifest: QuarryManifest } | { ok: false; reason: string } {
  const parsed = quarryManifestSchema.safeParse(manifest);
  if (parsed.success) return { ok: true, manifest: parsed.data as QuarryManifest };
  const issue = parsed.error.issues[0];
  return { ok: false, reason: issue ? `${issue.path.join(".") || "manifest"}: ${issue.message}` : "not a Quarry backup manifest" };
}

/**
 * The backup's checksum: the sha256 of its `manifest.json` as stored (`sha256sum manifest.json`
 * gives the same), which holds the sha256 of every file.
 */
export function manifestChecksum(manifest: BackupManifest, backupId: string): string {
  return `sha256:${createHash("sha256").update(manifestText(manifest, backupId)).digest("hex")}`;
}

/** Total bytes of a backup's files. */
export const manifestSize = (manifest: BackupManifest) => manifest.files.reduce((sum, f) => sum + f.size, 0);

/**
 * A new backup's id: its UTC start time, sortable, and a suffix — `nightly` for a scheduled run
 * (so a schedule tick delivered twice names the same backup), random for a manual one.
 */
export function newBackupId(at: Date, trigger: "scheduled" | "manual", random: string): string {
  const stamp = at.toISOString().replace(/\.\d+Z$/, "Z").replaceAll(/[-:]/g, "");
  return `${stamp}-${trigger === "scheduled" ? "nightly" : random}`;
}
