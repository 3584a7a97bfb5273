-- Up Migration

-- What this installation knows of its backups: those it is taking or failed to take, and those it
-- took. A published backup's truth is its manifest in backup storage (a fresh install restores from
-- storage alone); this table adds what a manifest cannot say: running, failed, and why.
CREATE TABLE backups (
  id              text PRIMARY KEY,
  trigger         text NOT NULL CHECK (trigger IN ('scheduled', 'manual')),
  status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
  job_id          uuid NOT NULL,
  -- The collections asked for; NULL means every active collection.
  collection_ids  uuid[],
  size_bytes      bigint,
  checksum        text,
  collections     jsonb,
  error           jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX backups_created_idx ON backups (created_at DESC);

-- A restore in place holds its collections: uploads, re-embeds and deletions wait (409) until it ends.
ALTER TABLE collections ADD COLUMN restore_job_id uuid;

-- Down Migration

ALTER TABLE collections DROP COLUMN restore_job_id;
DROP TABLE backups;
