-- Chat outbox (see the PostgreSQL twin): the rows whose sender died
-- mid-call are found through a partial index.
CREATE INDEX chat_outbox_sending ON chat_outbox (lease_until) WHERE state = 'sending';
