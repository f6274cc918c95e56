-- The live feed (issue 9, docs/realtime.md): every change to a table
-- exposed through /rest/v1 is appended here by a trigger in the writing
-- transaction, so every writer is captured without code of its own (REST,
-- the business operations, chat, workflows, another munshi process, psql).
-- The triggers are generated from the REST metadata at start-up
-- (src/realtime/capture.c), not written here, so that the captured columns
-- are always exactly the ones a REST read shows.
--
-- seq is the position, taken from a sequence as the trigger runs. txid is
-- the writing transaction (xid8), kept for diagnostics. The feed delivers
-- in seq order, and only up to a seq below which every transaction has
-- finished (src/realtime/feed.c says how it knows): two writes of one row
-- are ordered by the row's lock, so seq keeps each row's changes in order,
-- and a transaction that commits late is waited for, never skipped. The
-- sequence caches nothing, so seq follows the order the rows were written.
-- No index on created_at: the purge finds its end along seq (which follows
-- time closely), and every index is one more write per captured row.
CREATE TABLE realtime_changes (
  seq bigint GENERATED ALWAYS AS IDENTITY
    (SEQUENCE NAME realtime_changes_seq CACHE 1) PRIMARY KEY,
  txid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  profile_id uuid NOT NULL,
  table_name text NOT NULL,
  op smallint NOT NULL CHECK (op IN (1, 2, 4)),
  row_id uuid NOT NULL,
  record json,
  old_record json
);

-- One row: the fingerprint of the installed triggers, and the position up
-- to which the purge has deleted (a reader behind it has missed changes).
CREATE TABLE realtime_state (
  id integer PRIMARY KEY CHECK (id = 1),
  fingerprint text NOT NULL DEFAULT '',
  purged_seq bigint NOT NULL DEFAULT 0
);
INSERT INTO realtime_state (id) VALUES (1);
