-- Workflows (issue 8): send_message to a customer finds the customer's
-- latest session by customer_id (src/flow/node_message.c); without an
-- index each send read every session of the business, so workflow runs
-- slowed down as their own messages added sessions (found by the
-- workflows bench).
CREATE INDEX sessions_customer ON sessions (profile_id, customer_id);
