-- Up Migration

-- Jobs that fan out (ingest → embed batches, re-embed) count finished units for their progress.
ALTER TABLE jobs ADD COLUMN units_done integer NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN units_total integer NOT NULL DEFAULT 0;

-- Vectors of a collection live in generation `vector_version`; a re-embed writes the next one
-- and switches over when it is complete. `reembed_job_id` is set while one runs.
ALTER TABLE collections ADD COLUMN vector_version integer NOT NULL DEFAULT 0;
ALTER TABLE collections ADD COLUMN reembed_job_id uuid;
ALTER TABLE collections ADD COLUMN pending_embedding jsonb;

-- Down Migration

ALTER TABLE collections DROP COLUMN pending_embedding;
ALTER TABLE collections DROP COLUMN reembed_job_id;
ALTER TABLE collections DROP COLUMN vector_version;
ALTER TABLE jobs DROP COLUMN units_total;
ALTER TABLE jobs DROP COLUMN units_done;
