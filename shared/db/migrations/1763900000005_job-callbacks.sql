-- Up Migration

-- Where a job's end is POSTed (signed, from the outbox), when the request gave a callback_url.
ALTER TABLE jobs ADD COLUMN callback_url text;

-- Every delivery attempt of a job's callback, shown on the job (GET /v1/jobs/:id).
CREATE TABLE callback_attempts (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  run          integer NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  status_code  integer,
  error        text,
  duration_ms  integer NOT NULL,
  -- delivered (2xx), stopped (410: the receiver wants no more), retrying, or failed (given up)
  outcome      text NOT NULL CHECK (outcome IN ('delivered', 'stopped', 'retrying', 'failed'))
);
CREATE INDEX callback_attempts_job_idx ON callback_attempts (job_id, id);

-- Down Migration

DROP TABLE callback_attempts;
ALTER TABLE jobs DROP COLUMN callback_url;
