-- Chat: connected numbers and bots (channels), conversations keyed by the
-- channel they came in on, and messages that carry who sent them and the
-- provider's error. docs/chat.md describes the flow; the PostgreSQL twin of
-- this file says what each column is for.

ALTER TABLE profiles ADD COLUMN owner_phone TEXT
  CHECK (owner_phone IS NULL OR (owner_phone GLOB '+[1-9]*'
         AND length(owner_phone) BETWEEN 9 AND 16
         AND substr(owner_phone, 2) NOT GLOB '*[^0-9]*'));

CREATE TABLE channels (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  platform TEXT NOT NULL CHECK (platform IN ('whatsapp', 'telegram')),
  name TEXT CHECK (length(name) <= 100),
  phone_number_id TEXT UNIQUE CHECK (length(phone_number_id) BETWEEN 1 AND 32
                                     AND phone_number_id NOT GLOB '*[^0-9]*'),
  display_phone_number TEXT CHECK (length(display_phone_number) <= 32),
  access_token TEXT CHECK (length(access_token) <= 1024),
  app_secret TEXT CHECK (length(app_secret) <= 256),
  verify_token TEXT CHECK (length(verify_token) <= 256),
  bot_token TEXT CHECK (bot_token GLOB '[0-9]*:*' AND length(bot_token) <= 121
                        AND bot_token NOT GLOB '*[^0-9A-Za-z:_-]*'
                        AND bot_token NOT GLOB '*:*:*'
                        AND substr(bot_token, 1, instr(bot_token, ':') - 1) NOT GLOB '*[^0-9]*'
                        AND length(bot_token) - instr(bot_token, ':') BETWEEN 20 AND 100
                        AND instr(bot_token, ':') BETWEEN 2 AND 21),
  webhook_secret TEXT CHECK (length(webhook_secret) BETWEEN 1 AND 256
                             AND webhook_secret NOT GLOB '*[^A-Za-z0-9_-]*'),
  bot_username TEXT CHECK (length(bot_username) <= 64),
  templates TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(templates) AND json_type(templates) = 'array'),
  default_template TEXT CHECK (length(default_template) <= 512),
  rate_limit_per_s INTEGER CHECK (rate_limit_per_s BETWEEN 1 AND 1000),
  owner_chat_id TEXT CHECK (length(owner_chat_id) <= 32),
  owner_link_code TEXT CHECK (length(owner_link_code) <= 64),
  owner_link_expires_at TEXT,
  is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  verified_phone_number_id TEXT,
  PRIMARY KEY (profile_id, id),
  CHECK (platform <> 'whatsapp' OR (phone_number_id IS NOT NULL
                                    AND access_token IS NOT NULL)),
  CHECK (platform <> 'telegram' OR (bot_token IS NOT NULL
                                    AND phone_number_id IS NULL))
);
CREATE INDEX channels_by_id ON channels (id);

-- sessions and unified_messages change keys, which SQLite cannot alter in
-- place: both are rebuilt. The old tables are renamed first (their foreign
-- keys follow the rename), the new ones made and filled, the old dropped
-- child first.
ALTER TABLE unified_messages RENAME TO unified_messages_0004;
ALTER TABLE sessions RENAME TO sessions_0004;
DROP INDEX unified_messages_session;

CREATE TABLE sessions (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  customer_id TEXT,
  channel TEXT NOT NULL DEFAULT 'whatsapp' CHECK (channel IN ('whatsapp', 'telegram', 'web')),
  contact_id TEXT NOT NULL,
  contact_name TEXT,
  is_bot_active INTEGER NOT NULL DEFAULT 1 CHECK (is_bot_active IN (0, 1)),
  last_message_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  channel_id TEXT,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  last_inbound_at TEXT,
  unread_count INTEGER NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
  agent_state TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(agent_state)),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, channel_id, contact_id),
  FOREIGN KEY (profile_id, customer_id) REFERENCES customers (profile_id, id),
  FOREIGN KEY (profile_id, channel_id) REFERENCES channels (profile_id, id)
);
INSERT INTO sessions (profile_id, id, customer_id, channel, contact_id,
  contact_name, is_bot_active, last_message_at, created_at, updated_at)
SELECT profile_id, id, customer_id, channel, contact_id, contact_name,
  is_bot_active, last_message_at, created_at, updated_at FROM sessions_0004;

CREATE TABLE unified_messages (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  content TEXT,
  message_type TEXT NOT NULL DEFAULT 'text',
  status TEXT NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed')),
  provider_message_id TEXT,
  metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  channel_id TEXT,
  sender TEXT CHECK (sender IN ('customer', 'agent', 'owner', 'workflow')),
  error TEXT CHECK (error IS NULL OR json_valid(error)),
  reply_to TEXT,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, channel_id, provider_message_id),
  FOREIGN KEY (profile_id, session_id) REFERENCES sessions (profile_id, id) ON DELETE CASCADE,
  FOREIGN KEY (profile_id, channel_id) REFERENCES channels (profile_id, id)
);
INSERT INTO unified_messages (profile_id, id, session_id, direction, content,
  message_type, status, provider_message_id, metadata, created_at)
SELECT profile_id, id, session_id, direction, content, message_type, status,
  provider_message_id, metadata, created_at FROM unified_messages_0004;

DROP TABLE unified_messages_0004;
DROP TABLE sessions_0004;
CREATE INDEX unified_messages_session ON unified_messages (profile_id, session_id, created_at);
CREATE UNIQUE INDEX unified_messages_reply ON unified_messages (profile_id, reply_to)
  WHERE reply_to IS NOT NULL;

-- The outbox (see the PostgreSQL twin).
CREATE TABLE chat_outbox (
  profile_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  claimed_by TEXT,
  lease_until TEXT,
  last_error TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, message_id),
  FOREIGN KEY (profile_id, message_id) REFERENCES unified_messages (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX chat_outbox_due ON chat_outbox (next_attempt_at);
