-- The live feed (issue 9, docs/realtime.md): every change to a table
-- exposed through /rest/v1 is appended here by a trigger in the writing
-- transaction, so every writer is captured without code of its own. The
-- triggers are generated from the REST metadata at start-up
-- (src/realtime/capture.c), not written here, so that the captured columns
-- are always exactly the ones a REST read shows.
--
-- seq is the position. One writer at a time makes commit order write
-- order; txid stays 0. seq is the rowid (max + 1), not AUTOINCREMENT, which
-- would cost a write of sqlite_sequence per captured row: the purge never
-- deletes the newest row, so max + 1 never hands out a number twice.
-- No index on created_at either (the purge finds its end along seq, which
-- on SQLite follows time): every index is one more write per captured row.
-- record and old_record are JSON objects of the readable columns as the
-- database holds them (src/realtime/render.c turns them into REST's text).
CREATE TABLE realtime_changes (
  seq INTEGER PRIMARY KEY,
  txid INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
    DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now')),
  profile_id TEXT NOT NULL,
  table_name TEXT NOT NULL,
  op INTEGER NOT NULL CHECK (op IN (1, 2, 4)),
  row_id TEXT NOT NULL,
  record TEXT,
  old_record TEXT
);

-- One row: the fingerprint of the installed triggers, and the position up
-- to which the purge has deleted (a reader behind it has missed changes).
CREATE TABLE realtime_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  fingerprint TEXT NOT NULL DEFAULT '',
  purged_seq INTEGER NOT NULL DEFAULT 0
);
INSERT INTO realtime_state (id) VALUES (1);
