-- The books, SQLite: gapless invoice numbering, the stock ledger, how
-- payments are spread over invoices, Idempotency-Key answers, and the
-- per-consumer delivery state of the events outbox. Same conventions as
-- 0001: money INTEGER paise, quantities INTEGER thousandths, uuids and
-- timestamps TEXT in canonical form; profile_id leads every key of a
-- tenant-owned table.

-- One row per series: its last_number is bumped by an upsert inside the
-- issuing transaction (BEGIN IMMEDIATE, so one writer at a time), and a
-- rollback gives the number back (no gaps, no doubles).
CREATE TABLE invoice_series (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  prefix TEXT NOT NULL,
  financial_year TEXT NOT NULL
    CHECK (length(financial_year) = 5 AND financial_year GLOB '[0-9][0-9]-[0-9][0-9]'),
  last_number INTEGER NOT NULL DEFAULT 0 CHECK (last_number >= 0),
  PRIMARY KEY (profile_id, prefix, financial_year)
);

-- Every change of a product's stock, so current_stock always equals the sum
-- of its movements and can be explained line by line. Deleting a product
-- takes its ledger with it (a product that was sold cannot be deleted:
-- invoice_items refers to it).
CREATE TABLE stock_movements (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  product_id TEXT NOT NULL,
  quantity_delta INTEGER NOT NULL,
  balance_after INTEGER NOT NULL,
  reason TEXT NOT NULL,
  note TEXT,
  ref_type TEXT,
  ref_id TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, product_id) REFERENCES products (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX stock_movements_product ON stock_movements (profile_id, product_id, created_at);

-- Which part of a payment settled which invoice (a payment may cover
-- several invoices, an invoice may be paid in parts). No cascade from
-- payments or invoices: amount_paid is derived from these rows, so a payment
-- or invoice that has them cannot be deleted under them.
CREATE TABLE payment_allocations (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  payment_id TEXT NOT NULL,
  invoice_id TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount > 0),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, payment_id) REFERENCES payments (profile_id, id),
  FOREIGN KEY (profile_id, invoice_id) REFERENCES invoices (profile_id, id)
);
CREATE INDEX payment_allocations_invoice ON payment_allocations (profile_id, invoice_id);
CREATE INDEX payment_allocations_payment ON payment_allocations (profile_id, payment_id);

-- The first answer to each Idempotency-Key, written in the operation's own
-- transaction; kept as the text that was sent, so a replay is byte for byte
-- the first answer.
CREATE TABLE idempotency_keys (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  operation TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  response TEXT NOT NULL CHECK (json_valid(response)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, key)
);

-- One row per event and consumer: the claim state of the outbox. Led by
-- consumer because a consumer's workers scan only their own queue.
CREATE TABLE event_deliveries (
  consumer TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'claimed', 'done')),
  attempts INTEGER NOT NULL DEFAULT 0,
  claimed_by TEXT,
  claimed_until TEXT,
  done_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (consumer, profile_id, event_id),
  FOREIGN KEY (profile_id, event_id) REFERENCES events (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX event_deliveries_queue ON event_deliveries (consumer, status, created_at);
