-- Up Migration

-- The OpenAI-compatible surface (/v1/files, /v1/vector_stores). A file is stored once; attaching
-- it to a vector store makes a document that reads its bytes from here (no copy per store).
CREATE TABLE files (
  id          text PRIMARY KEY,
  tenant_id   text NOT NULL,
  filename    text NOT NULL,
  purpose     text NOT NULL,
  bytes       bigint NOT NULL,
  sha256      text NOT NULL,
  -- What the bytes are (detected, not what the client claimed); null when Quarry cannot parse them.
  mime_type   text,
  content     bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz
);
CREATE INDEX files_tenant_created_idx ON files (tenant_id, created_at, id);
CREATE INDEX files_expires_idx ON files (expires_at) WHERE expires_at IS NOT NULL;

-- A vector store is a collection (named after the store's id) plus what OpenAI's object carries.
-- Its rows go with the collection when the collection's deletion job removes them (not by a
-- cascade): an in-place restore deletes and re-inserts the collection row in one transaction, and
-- the deferred check lets the store survive that.
CREATE TABLE vector_stores (
  id                  text PRIMARY KEY,
  tenant_id           text NOT NULL,
  collection_id       uuid NOT NULL UNIQUE REFERENCES collections (id) DEFERRABLE INITIALLY DEFERRED,
  name                text NOT NULL DEFAULT '',
  description         text,
  metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
  expires_after_days  integer,
  last_active_at      timestamptz NOT NULL DEFAULT now(),
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vector_stores_tenant_created_idx ON vector_stores (tenant_id, created_at, id);

-- A document attached from a file: the file's id is the vector store file's id, and its chunking
-- ({size, overlap} in tokens) may differ from the deployment's default. metadata_updated_at: its
-- metadata (the file's attributes) changed after it was attached; the ingest that ends after that
-- writes the metadata to the vector store again.
ALTER TABLE documents
  ADD COLUMN file_id text,
  ADD COLUMN chunking jsonb,
  ADD COLUMN metadata_updated_at timestamptz;
CREATE UNIQUE INDEX documents_collection_file_key ON documents (collection_id, file_id) WHERE status <> 'deleting' AND file_id IS NOT NULL;
CREATE INDEX documents_file_idx ON documents (file_id) WHERE file_id IS NOT NULL;
-- Two files with the same bytes are two vector store files, as in OpenAI's API: the content
-- dedup applies to uploads only.
DROP INDEX documents_collection_sha_key;
CREATE UNIQUE INDEX documents_collection_sha_key ON documents (collection_id, sha256) WHERE status <> 'deleting' AND source_url IS NULL AND file_id IS NULL;

CREATE TABLE vector_store_file_batches (
  id             text PRIMARY KEY,
  tenant_id      text NOT NULL,
  collection_id  uuid NOT NULL REFERENCES collections (id) DEFERRABLE INITIALLY DEFERRED,
  cancelled_at   timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vector_store_file_batch_files (
  batch_id     text NOT NULL REFERENCES vector_store_file_batches (id) ON DELETE CASCADE,
  document_id  uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
  PRIMARY KEY (batch_id, document_id)
);
CREATE INDEX vector_store_file_batch_files_document_idx ON vector_store_file_batch_files (document_id);

-- Where deleted objects stood in their lists, for a day: the SDK pages with the last id it saw,
-- and a client that deletes what it lists (a cleanup loop) must still get its next page.
CREATE TABLE list_tombstones (
  scope       text NOT NULL,
  id          text NOT NULL,
  created_at  timestamptz NOT NULL,
  deleted_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, id)
);
CREATE INDEX list_tombstones_deleted_idx ON list_tombstones (deleted_at);
