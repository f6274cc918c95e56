-- Chat inbound: raw webhook bodies waiting for the inbound worker, and
-- statuses that arrived before their message had a provider id. The
-- PostgreSQL twin of this file says what each column is for.

CREATE TABLE chat_inbound (
  id INTEGER PRIMARY KEY,
  platform TEXT NOT NULL CHECK (platform IN ('whatsapp', 'telegram')),
  channel_id TEXT,
  update_id INTEGER,
  payload TEXT NOT NULL,
  received_at TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  claimed_by TEXT,
  lease_until TEXT,
  last_error TEXT,
  UNIQUE (channel_id, update_id)
);
CREATE INDEX chat_inbound_pending ON chat_inbound (id) WHERE state = 'pending';

CREATE TABLE chat_status_pending (
  profile_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  provider_message_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
  error TEXT CHECK (error IS NULL OR json_valid(error)),
  received_at TEXT NOT NULL,
  PRIMARY KEY (profile_id, channel_id, provider_message_id, status)
);
CREATE INDEX chat_status_pending_age ON chat_status_pending (received_at);
