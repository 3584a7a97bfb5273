-- Up Migration

-- A named workflow of a tenant. Its steps live in its versions: an update adds a version, and a
-- run keeps the version it started with.
CREATE TABLE workflows (
  id          uuid PRIMARY KEY,
  tenant_id   text NOT NULL,
  name        text NOT NULL,
  version     integer NOT NULL DEFAULT 1,
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX workflows_name_idx ON workflows (tenant_id, name) WHERE status = 'active';
CREATE INDEX workflows_list_idx ON workflows (tenant_id, created_at DESC, id DESC) WHERE status = 'active';

CREATE TABLE workflow_versions (
  workflow_id  uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
  version      integer NOT NULL,
  -- {steps, timeout_s, max_retries, input_schema?} as validated when it was stored
  definition   jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, version)
);

-- One run of a workflow version; its durable job (run_workflow) carries status and the callback.
CREATE TABLE workflow_runs (
  id           uuid PRIMARY KEY,
  tenant_id    text NOT NULL,
  workflow_id  uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
  version      integer NOT NULL,
  job_id       uuid NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
  input        jsonb NOT NULL,
  -- set when a worker first drives the run: timeout_s counts from there, not from the queue
  deadline_at  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workflow_id, version) REFERENCES workflow_versions (workflow_id, version)
);
CREATE INDEX workflow_runs_list_idx ON workflow_runs (workflow_id, created_at DESC, id DESC);

-- Each step of a run: its output is stored once it succeeds, so nothing repeats a finished step.
CREATE TABLE workflow_steps (
  run_id       uuid NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
  step_id      text NOT NULL,
  -- pending: its needs have not all succeeded; skipped: the run ended before it could start
  status       text NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
  attempts     integer NOT NULL DEFAULT 0,
  output       jsonb,
  output_bytes integer,
  error        jsonb,
  queued_at    timestamptz,
  started_at   timestamptz,
  finished_at  timestamptz,
  PRIMARY KEY (run_id, step_id)
);

-- Down Migration

DROP TABLE workflow_steps;
DROP TABLE workflow_runs;
DROP TABLE workflow_versions;
DROP TABLE workflows;
