-- Up Migration

CREATE TABLE collections (
  id          uuid PRIMARY KEY,
  tenant_id   text NOT NULL,
  name        text NOT NULL,
  embedding   jsonb NOT NULL,
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleting')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
-- A name is taken while its collection is active; a collection being deleted frees it.
CREATE UNIQUE INDEX collections_tenant_name_key ON collections (tenant_id, name) WHERE status = 'active';
CREATE INDEX collections_tenant_created_idx ON collections (tenant_id, created_at DESC, id DESC);

CREATE TABLE documents (
  id             uuid PRIMARY KEY,
  tenant_id      text NOT NULL,
  collection_id  uuid NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
  title          text,
  status         text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'processing', 'ready', 'failed', 'deleting')),
  error_code     text,
  error_message  text,
  mime_type      text NOT NULL,
  size_bytes     bigint NOT NULL,
  sha256         text NOT NULL,
  page_count     integer,
  chunk_count    integer NOT NULL DEFAULT 0,
  metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
  external_id    text,
  callback_url   text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Re-uploading the same content to a collection finds the existing document.
CREATE UNIQUE INDEX documents_collection_sha_key ON documents (collection_id, sha256) WHERE status <> 'deleting';
CREATE INDEX documents_collection_created_idx ON documents (collection_id, created_at DESC, id DESC);
CREATE INDEX documents_metadata_idx ON documents USING gin (metadata jsonb_path_ops);

-- The uploaded bytes until the document is ingested (workers may run on other machines).
CREATE TABLE document_sources (
  document_id  uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
  content      bytea NOT NULL
);

CREATE TABLE chunks (
  document_id    uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
  chunk_index    integer NOT NULL,
  tenant_id      text NOT NULL,
  collection_id  uuid NOT NULL,
  text           text NOT NULL,
  token_count    integer NOT NULL,
  page           integer,
  heading        text,
  PRIMARY KEY (document_id, chunk_index)
);
CREATE INDEX chunks_collection_idx ON chunks (collection_id);

CREATE TABLE jobs (
  id             uuid PRIMARY KEY,
  tenant_id      text NOT NULL,
  type           text NOT NULL,
  status         text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  progress       integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  attempts       integer NOT NULL DEFAULT 0,
  max_attempts   integer NOT NULL,
  payload        jsonb NOT NULL,
  result         jsonb,
  error          jsonb,
  resource_type  text,
  resource_id    uuid,
  created_at     timestamptz NOT NULL DEFAULT now(),
  started_at     timestamptz,
  finished_at    timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_tenant_created_idx ON jobs (tenant_id, created_at DESC, id DESC);
CREATE INDEX jobs_resource_idx ON jobs (resource_id, created_at DESC);
CREATE INDEX jobs_queued_idx ON jobs (created_at) WHERE status IN ('queued', 'running');

-- Down Migration

DROP TABLE jobs;
DROP TABLE chunks;
DROP TABLE document_sources;
DROP TABLE documents;
DROP TABLE collections;
