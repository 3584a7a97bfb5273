-- Up Migration

-- Where a chunk came from beyond page and heading: the sheet of a spreadsheet, the slide of a
-- presentation, and the OCR confidence (0–100) when its text was read from an image.
ALTER TABLE chunks
  ADD COLUMN sheet text,
  ADD COLUMN slide integer,
  ADD COLUMN ocr_confidence real;

-- What parsing left out or read badly ([{code, message}]), what OCR did ({pages: [{page,
-- confidence}], languages}), and where a document fetched from a URL came from. A URL document
-- has no bytes, type or hash until a worker has fetched it.
ALTER TABLE documents
  ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]'::jsonb,
  ADD COLUMN ocr jsonb,
  ADD COLUMN source_url text,
  ADD COLUMN final_url text,
  ADD COLUMN fetched_at timestamptz,
  ALTER COLUMN mime_type DROP NOT NULL,
  ALTER COLUMN sha256 DROP NOT NULL;

-- The same uploaded content finds the existing document; the same URL finds the document made
-- from it (a URL's content may equal an upload's: they are different sources).
DROP INDEX documents_collection_sha_key;
CREATE UNIQUE INDEX documents_collection_sha_key ON documents (collection_id, sha256) WHERE status <> 'deleting' AND source_url IS NULL;
CREATE UNIQUE INDEX documents_collection_url_key ON documents (collection_id, source_url) WHERE status <> 'deleting' AND source_url IS NOT NULL;
