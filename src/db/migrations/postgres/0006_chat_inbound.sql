-- Chat inbound: raw webhook bodies waiting for the inbound worker, and
-- statuses that arrived before their message had a provider id
-- (chat/inbound.c, docs/chat.md "Inbound: webhooks and processing").

-- One row per verified webhook request, written before the 200 goes out
-- and deleted once processed. channel_id is the channel of the URL (NULL
-- on the shared WhatsApp route: the worker routes each change by its
-- phone_number_id). update_id is Telegram's, unique per channel, so a
-- redelivered update that is still waiting is stored once. The body is
-- kept as text, byte for byte what the provider signed. A body that fails
-- to process after a few attempts stays as 'failed' with its last_error.
CREATE TABLE chat_inbound (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  platform text NOT NULL CHECK (platform IN ('whatsapp', 'telegram')),
  channel_id uuid,
  update_id bigint,
  payload text NOT NULL,
  received_at timestamptz NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  claimed_by text,
  lease_until timestamptz,
  last_error text,
  UNIQUE (channel_id, update_id)
);
CREATE INDEX chat_inbound_pending ON chat_inbound (id) WHERE state = 'pending';

-- A WhatsApp status (sent, delivered, read, failed) for a provider message
-- id that no message carries yet: the outbox stores the id only after the
-- send returns, and Meta may be faster. Applied (and deleted) when the
-- message gets its id (chat_statuses_apply_pending), or by the inbound
-- worker's sweep; dropped after a week when no message ever claims it.
CREATE TABLE chat_status_pending (
  profile_id uuid NOT NULL,
  channel_id uuid NOT NULL,
  provider_message_id text NOT NULL,
  status text NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
  error jsonb,
  received_at timestamptz NOT NULL,
  PRIMARY KEY (profile_id, channel_id, provider_message_id, status)
);
CREATE INDEX chat_status_pending_age ON chat_status_pending (received_at);
