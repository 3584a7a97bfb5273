-- Up Migration

CREATE TABLE chat_sessions (
  id              uuid PRIMARY KEY,
  tenant_id       text NOT NULL,
  collection_ids  uuid[] NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_sessions_tenant_idx ON chat_sessions (tenant_id, updated_at DESC);

CREATE TABLE chat_messages (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_id  uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('user', 'assistant')),
  content     text NOT NULL,
  sources     jsonb,
  model       text,
  mode        text CHECK (mode IN ('llm', 'extractive')),
  usage       jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_session_idx ON chat_messages (session_id, id);

-- Down Migration

DROP TABLE chat_messages;
DROP TABLE chat_sessions;
