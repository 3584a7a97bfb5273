-- Up Migration

-- The per-tenant queue caps (TENANT_MAX_QUEUED_DOCUMENTS, TENANT_MAX_QUEUED_BYTES) count a tenant's
-- documents that are queued or processing on every upload: this keeps that count off the whole
-- table. It holds only documents in flight, so it stays small.
CREATE INDEX documents_tenant_in_flight_idx ON documents (tenant_id) INCLUDE (size_bytes) WHERE status IN ('queued', 'processing');
