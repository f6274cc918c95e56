-- Chat outbox: finding the rows whose sender died mid-call, and a fix to
-- the channels table of 0005 (chat/outbox.c, docs/chat.md "Outbox").

-- Each poll looks for 'sending' rows whose lease ran out (the unknowable
-- in-flight case); few rows are ever 'sending', so a partial index keeps
-- that look-up off the pending rows.
CREATE INDEX chat_outbox_sending ON chat_outbox (lease_until) WHERE state = 'sending';

-- 0005 wrote the webhook_secret check as '^[A-Za-z0-9_-]{1,256}$', but
-- PostgreSQL's regular expressions allow at most 255 repetitions, so the
-- check failed ("invalid regular expression") for every non-null secret
-- and no Telegram channel could be given one. The same rule, written so
-- PostgreSQL can run it (SQLite's twin was right). The inbound work's 0006
-- carries the same fix; both drop and re-create the same constraint, so
-- either order, or both, leaves one correct check.
ALTER TABLE channels DROP CONSTRAINT IF EXISTS channels_webhook_secret_check;
ALTER TABLE channels ADD CONSTRAINT channels_webhook_secret_check
  CHECK (length(webhook_secret) BETWEEN 1 AND 256
         AND webhook_secret ~ '^[A-Za-z0-9_-]+$');
