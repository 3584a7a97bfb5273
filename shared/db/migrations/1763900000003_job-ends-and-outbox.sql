-- Up Migration

-- A cancel asked of a job that a worker holds (or whose batches run): the worker sees it at its next
-- boundary, through Redis at once or through this column when it starts a step.
ALTER TABLE jobs ADD COLUMN cancel_requested_at timestamptz;
-- Why it was asked to stop, when not by the client (its document or collection was deleted).
ALTER TABLE jobs ADD COLUMN cancel_error jsonb;
-- A retry starts run n+1 of the same job: each run ends once, and writes its own outbox row.
ALTER TABLE jobs ADD COLUMN run integer NOT NULL DEFAULT 1;

-- Side effects of a job's end, written in the same transaction that ends it (exactly once: one row
-- per job and topic). Consumers claim rows with FOR UPDATE SKIP LOCKED and mark them processed.
CREATE TABLE outbox (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic         text NOT NULL,
  job_id        uuid NOT NULL,
  run           integer NOT NULL,
  job_type      text NOT NULL,
  tenant_id     text NOT NULL,
  resource_id   uuid,
  payload       jsonb NOT NULL,
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text,
  available_at  timestamptz NOT NULL DEFAULT now(),
  -- The current lease (set when a relay claims the row): only its holder may mark the row.
  lease         uuid,
  processed_at  timestamptz,
  -- Given up on after too many failed tries: kept for an operator, never claimed again.
  dead_at       timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (topic, job_id, run)
);
CREATE INDEX outbox_pending_idx ON outbox (available_at) WHERE processed_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_resource_pending_idx ON outbox (resource_id) WHERE processed_at IS NULL AND dead_at IS NULL;

-- Every change of a job a client can follow (GET /v1/jobs/:id/events): status moves and progress.
CREATE TABLE job_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  type        text NOT NULL CHECK (type IN ('progress', 'end')),
  job         jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

-- Down Migration

DROP TABLE job_events;
DROP TABLE outbox;
ALTER TABLE jobs DROP COLUMN run;
ALTER TABLE jobs DROP COLUMN cancel_error;
ALTER TABLE jobs DROP COLUMN cancel_requested_at;
