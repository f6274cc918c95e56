-- Chat outbox: finding the rows whose sender died mid-call (chat/outbox.c,
-- docs/chat.md "Outbox").

-- Each poll looks for 'sending' rows whose lease ran out (the unknowable
-- in-flight case); few rows are ever 'sending', so a partial index keeps
-- that look-up off the pending rows.
CREATE INDEX chat_outbox_sending ON chat_outbox (lease_until) WHERE state = 'sending';
