-- Background work, SQLite: the outbox becomes one row per event read
-- through per-consumer cursors, leased batches of events, and a table of
-- timers and schedules. Same tables as on PostgreSQL (see docs/jobs.md).

DROP TABLE event_deliveries;

-- One writer at a time means commit order is write order: seq alone orders
-- the outbox and txid stays 0, so the shared (txid, seq) queries order by
-- seq. event_emit gives seq = max(seq) + 1 under the write lock; the purge
-- always keeps the newest event, so a number is never handed out twice.
ALTER TABLE events ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN txid INTEGER NOT NULL DEFAULT 0;
UPDATE events SET seq = rowid;
CREATE UNIQUE INDEX events_seq ON events (seq);
CREATE UNIQUE INDEX events_position ON events (txid, seq);

CREATE TABLE event_consumers (
  name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 63),
  start_txid INTEGER NOT NULL,
  start_seq INTEGER NOT NULL,
  cursor_txid INTEGER NOT NULL,
  cursor_seq INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now'))
);

CREATE TABLE event_batches (
  consumer TEXT NOT NULL REFERENCES event_consumers (name) ON DELETE CASCADE,
  id TEXT NOT NULL PRIMARY KEY,
  first_txid INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_txid INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 1,
  claimed_by TEXT,
  lease_until TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now'))
);
CREATE INDEX event_batches_lease ON event_batches (consumer, lease_until);

CREATE TABLE jobs (
  name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
  kind TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 63),
  profile_id TEXT REFERENCES profiles (id) ON DELETE CASCADE,
  payload TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
  run_at TEXT NOT NULL,
  every_s INTEGER CHECK (every_s IS NULL OR every_s > 0),
  claims INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  claimed_by TEXT,
  lease_until TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now'))
);
CREATE INDEX jobs_due ON jobs (run_at);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
