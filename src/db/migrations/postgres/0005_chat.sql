-- Chat: connected numbers and bots (channels), conversations keyed by the
-- channel they came in on, and messages that carry who sent them and the
-- provider's error. docs/chat.md describes the flow.

-- The owner's own phone (E.164): messages from it are commands, and a
-- workflow's send_message to "owner" goes there. whatsapp_number stays the
-- business's number that customers write to.
ALTER TABLE profiles ADD COLUMN owner_phone text
  CHECK (owner_phone ~ '^\+[1-9][0-9]{7,14}$');

-- One row per connected WhatsApp number or Telegram bot. The secrets
-- (access_token, app_secret, verify_token, bot_token, webhook_secret,
-- owner_link_code) are write-only through the API: they read as null.
-- A WhatsApp phone_number_id belongs to one business only, so it is unique
-- across profiles (the shared webhook routes on it). Webhook URLs name the
-- channel by id alone, hence the index on id.
CREATE TABLE channels (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  platform text NOT NULL CHECK (platform IN ('whatsapp', 'telegram')),
  name text CHECK (length(name) <= 100),
  phone_number_id text UNIQUE CHECK (phone_number_id ~ '^[0-9]{1,32}$'),
  display_phone_number text CHECK (length(display_phone_number) <= 32),
  access_token text CHECK (length(access_token) <= 1024),
  app_secret text CHECK (length(app_secret) <= 256),
  verify_token text CHECK (length(verify_token) <= 256),
  bot_token text CHECK (bot_token ~ '^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$'),
  -- (PostgreSQL's regular expressions repeat at most 255 times: the
  -- length is checked apart.)
  webhook_secret text CHECK (webhook_secret ~ '^[A-Za-z0-9_-]+$'
                             AND length(webhook_secret) <= 256),
  bot_username text CHECK (length(bot_username) <= 64),
  -- Message templates approved for this number in Meta's manager:
  -- [{"name", "language", "params": <number of body parameters>}].
  templates jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(templates) = 'array'),
  -- The template a business-initiated message uses when the customer's
  -- 24-hour window is closed (its body parameters: the message's text).
  default_template text CHECK (length(default_template) <= 512),
  -- Messages per second this channel may send (NULL: the provider's
  -- default, WhatsApp 80 per number, Telegram 30 per bot).
  rate_limit_per_s integer CHECK (rate_limit_per_s BETWEEN 1 AND 1000),
  -- Telegram: the owner's chat, linked by sending the one-time code.
  owner_chat_id text CHECK (length(owner_chat_id) <= 32),
  owner_link_code text CHECK (length(owner_link_code) <= 64),
  owner_link_expires_at timestamptz,
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- The phone_number_id whose ownership rpc/connect_whatsapp proved with
  -- the channel's token (Graph GET /<id>). The shared webhook route
  -- (one Meta app for many businesses) delivers a number's messages
  -- only to the channel that proved it owns the number.
  verified_phone_number_id text,
  PRIMARY KEY (profile_id, id),
  CHECK (platform <> 'whatsapp' OR (phone_number_id IS NOT NULL
                                    AND access_token IS NOT NULL)),
  CHECK (platform <> 'telegram' OR (bot_token IS NOT NULL
                                    AND phone_number_id IS NULL))
);
CREATE INDEX channels_by_id ON channels (id);

-- A conversation is one per (business, channel, contact): the contact's
-- wa_id (or Meta's user id when there is none) or the Telegram chat id.
-- channel stays the platform ('web' for none). last_inbound_at opens
-- WhatsApp's 24-hour customer-service window; agent_state holds the
-- agent's memory of the conversation (a pending order, fallbacks in a row).
ALTER TABLE sessions DROP CONSTRAINT sessions_profile_id_channel_contact_id_key;
ALTER TABLE sessions ADD COLUMN channel_id uuid;
ALTER TABLE sessions ADD COLUMN status text NOT NULL DEFAULT 'open'
  CHECK (status IN ('open', 'closed'));
ALTER TABLE sessions ADD COLUMN last_inbound_at timestamptz;
ALTER TABLE sessions ADD COLUMN unread_count integer NOT NULL DEFAULT 0
  CHECK (unread_count >= 0);
ALTER TABLE sessions ADD COLUMN agent_state jsonb NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD FOREIGN KEY (profile_id, channel_id)
  REFERENCES channels (profile_id, id);
ALTER TABLE sessions ADD UNIQUE (profile_id, channel_id, contact_id);

-- Messages: a provider's message id is unique per channel (Telegram's
-- message ids are per chat: munshi stores "<chat id>:<message id>").
-- sender says who wrote an outbound one; error holds the provider's code
-- and text when it failed; reply_to is the inbound message an agent reply
-- answers (one reply each, so a redelivered event cannot answer twice).
ALTER TABLE unified_messages DROP CONSTRAINT unified_messages_profile_id_provider_message_id_key;
ALTER TABLE unified_messages ADD COLUMN channel_id uuid;
ALTER TABLE unified_messages ADD COLUMN sender text
  CHECK (sender IN ('customer', 'agent', 'owner', 'workflow'));
ALTER TABLE unified_messages ADD COLUMN error jsonb;
ALTER TABLE unified_messages ADD COLUMN reply_to uuid;
ALTER TABLE unified_messages ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE unified_messages ADD FOREIGN KEY (profile_id, channel_id)
  REFERENCES channels (profile_id, id);
ALTER TABLE unified_messages ADD UNIQUE (profile_id, channel_id, provider_message_id);
-- Partial: only agent replies carry reply_to. A full index on it would be
-- the narrowest index that starts with profile_id, and PostgreSQL's plan
-- for a key lookup made while the table is tiny takes such an index at the
-- same cost as the right one, then scans every message of the business
-- with it as the table grows (the same reason sessions has no index on
-- (profile_id, last_message_at): a business's conversations are sorted
-- in memory, they are few).
CREATE UNIQUE INDEX unified_messages_reply ON unified_messages (profile_id, reply_to)
  WHERE reply_to IS NOT NULL;

-- The outbox: one row per outbound message still to send, claimed by the
-- workers under leases (chat/outbox.c). 'sending' is committed before the
-- provider is called, so a row found 'sending' after its lease ran out is
-- the one unknowable case (docs/chat.md). Sent and failed rows are deleted;
-- the message row keeps the outcome.
CREATE TABLE chat_outbox (
  profile_id uuid NOT NULL,
  message_id uuid NOT NULL,
  channel_id uuid NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  claimed_by text,
  lease_until timestamptz,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, message_id),
  FOREIGN KEY (profile_id, message_id) REFERENCES unified_messages (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX chat_outbox_due ON chat_outbox (next_attempt_at);
