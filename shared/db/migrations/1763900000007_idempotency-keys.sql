-- Up Migration

-- Idempotency-Key: the first answer to a POST, kept a day, replayed for the same key and body.
CREATE TABLE idempotency_keys (
  tenant_id     text NOT NULL,
  key           text NOT NULL,
  -- sha256 of the method, the path and the canonical body: another body under the key is refused
  fingerprint   text NOT NULL,
  -- in_flight: the first request is still being answered (until locked_until, in case its process died)
  state         text NOT NULL CHECK (state IN ('in_flight', 'done')),
  -- the request that holds the claim: only it may keep its answer or let the key go
  claim_token   text,
  status_code   integer,
  location      text,
  body          jsonb,
  locked_until  timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- Down Migration

DROP TABLE idempotency_keys;
