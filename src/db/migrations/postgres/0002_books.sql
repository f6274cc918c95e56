-- The books, PostgreSQL: gapless invoice numbering, the stock ledger, how
-- payments are spread over invoices, Idempotency-Key answers, and the
-- per-consumer delivery state of the events outbox. Same conventions as
-- 0001: profile_id leads every key of a tenant-owned table.

-- One row per series: its last_number is bumped by an upsert inside the
-- issuing transaction, so the row lock serialises issuers of one series and
-- a rollback gives the number back (no gaps, no doubles).
CREATE TABLE invoice_series (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  prefix text NOT NULL,
  financial_year text NOT NULL CHECK (financial_year ~ '^[0-9]{2}-[0-9]{2}$'),
  last_number bigint NOT NULL DEFAULT 0 CHECK (last_number >= 0),
  PRIMARY KEY (profile_id, prefix, financial_year)
);

-- Every change of a product's stock, so current_stock always equals the sum
-- of its movements and can be explained line by line. Deleting a product
-- takes its ledger with it (a product that was sold cannot be deleted:
-- invoice_items refers to it).
CREATE TABLE stock_movements (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  product_id uuid NOT NULL,
  quantity_delta numeric(14,3) NOT NULL,
  balance_after numeric(14,3) NOT NULL,
  reason text NOT NULL,
  note text,
  ref_type text,
  ref_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, product_id) REFERENCES products (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX stock_movements_product ON stock_movements (profile_id, product_id, created_at);

-- Which part of a payment settled which invoice (a payment may cover
-- several invoices, an invoice may be paid in parts). No cascade from
-- payments or invoices: amount_paid is derived from these rows, so a payment
-- or invoice that has them cannot be deleted under them.
CREATE TABLE payment_allocations (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  payment_id uuid NOT NULL,
  invoice_id uuid NOT NULL,
  amount numeric(14,2) NOT NULL CHECK (amount > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, payment_id) REFERENCES payments (profile_id, id),
  FOREIGN KEY (profile_id, invoice_id) REFERENCES invoices (profile_id, id)
);
CREATE INDEX payment_allocations_invoice ON payment_allocations (profile_id, invoice_id);
CREATE INDEX payment_allocations_payment ON payment_allocations (profile_id, payment_id);

-- The first answer to each Idempotency-Key, written in the operation's own
-- transaction. response is json, not jsonb: json keeps the text as written,
-- so a replay is byte for byte the first answer (jsonb would reorder keys).
CREATE TABLE idempotency_keys (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  key text NOT NULL,
  operation text NOT NULL,
  request_hash text NOT NULL,
  status integer NOT NULL,
  response json NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, key)
);

-- One row per event and consumer: the claim state of the outbox. Led by
-- consumer because a consumer's workers scan only their own queue.
CREATE TABLE event_deliveries (
  consumer text NOT NULL,
  profile_id uuid NOT NULL,
  event_id uuid NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'claimed', 'done')),
  attempts integer NOT NULL DEFAULT 0,
  claimed_by text,
  claimed_until timestamptz,
  done_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, profile_id, event_id),
  FOREIGN KEY (profile_id, event_id) REFERENCES events (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX event_deliveries_queue ON event_deliveries (consumer, status, created_at);
