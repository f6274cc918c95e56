-- munshi schema, SQLite. Money is INTEGER paise, quantities INTEGER thousandths,
-- GST rates INTEGER hundredths of a percent (18% = 1800); booleans 0/1;
-- uuids, dates and timestamps TEXT in canonical form (see timeutil.h). profile_id leads every key of a tenant-owned
-- table, so no row can point into another business. Ids are UUIDv7 made by
-- the server; timestamps are set by the server (defaults are a safety net).

CREATE TABLE auth_users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  encrypted_password TEXT NOT NULL,
  raw_user_meta_data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(raw_user_meta_data)),
  email_confirmed_at TEXT,
  last_sign_in_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now'))
);

CREATE TABLE auth_sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
  user_agent TEXT,
  ip TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now'))
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

-- Refresh tokens are kept as SHA-256 hashes; each is good once (rotation).
CREATE TABLE auth_refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  used_at TEXT
);
CREATE INDEX auth_refresh_tokens_session ON auth_refresh_tokens (session_id);

CREATE TABLE profiles (
  id TEXT PRIMARY KEY REFERENCES auth_users (id) ON DELETE CASCADE,
  business_name TEXT,
  gst_number TEXT,
  whatsapp_number TEXT UNIQUE,
  state_code TEXT CHECK (length(state_code) = 2 AND state_code GLOB '[0-9][0-9]'),
  address TEXT,
  upi_id TEXT,
  invoice_prefix TEXT NOT NULL DEFAULT 'INV',
  allow_negative_stock INTEGER NOT NULL DEFAULT 0 CHECK (allow_negative_stock IN (0, 1)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  CHECK (gst_number IS NULL OR state_code = substr(gst_number, 1, 2))
);

CREATE TABLE customers (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  full_name TEXT NOT NULL,
  phone_number TEXT,
  email TEXT,
  gstin TEXT,
  state_code TEXT CHECK (length(state_code) = 2 AND state_code GLOB '[0-9][0-9]'),
  address TEXT,
  -- numeric(14,2)'s range, which PostgreSQL enforces by type
  total_debt INTEGER NOT NULL DEFAULT 0
    CHECK (total_debt BETWEEN -99999999999999 AND 99999999999999),
  notes TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, phone_number),
  -- a registered customer's state is the one its GSTIN names
  CHECK (gstin IS NULL OR state_code = substr(gstin, 1, 2))
);

CREATE TABLE products (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  sku TEXT,
  hsn_code TEXT CHECK (length(hsn_code) IN (4, 6, 8) AND hsn_code NOT GLOB '*[^0-9]*'),
  unit TEXT NOT NULL DEFAULT 'pcs',
  gst_rate INTEGER NOT NULL DEFAULT 0 CHECK (gst_rate >= 0 AND gst_rate <= 10000),
  base_price INTEGER NOT NULL DEFAULT 0 CHECK (base_price >= 0),
  current_stock INTEGER NOT NULL DEFAULT 0
    CHECK (current_stock BETWEEN -99999999999999 AND 99999999999999),
  low_stock_threshold INTEGER,
  is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, sku)
);

CREATE TABLE invoices (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  invoice_number TEXT,
  invoice_date TEXT NOT NULL,
  due_date TEXT,
  place_of_supply TEXT,
  status TEXT NOT NULL DEFAULT 'draft'
    CHECK (status IN ('draft', 'pending', 'partially_paid', 'paid', 'cancelled')),
  subtotal INTEGER NOT NULL DEFAULT 0,
  cgst_amount INTEGER NOT NULL DEFAULT 0,
  sgst_amount INTEGER NOT NULL DEFAULT 0,
  igst_amount INTEGER NOT NULL DEFAULT 0,
  round_off INTEGER NOT NULL DEFAULT 0,
  total_amount INTEGER NOT NULL DEFAULT 0,
  amount_paid INTEGER NOT NULL DEFAULT 0,
  balance_due INTEGER NOT NULL DEFAULT 0,
  notes TEXT,
  cancel_reason TEXT,
  issued_at TEXT,
  cancelled_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, invoice_number),
  FOREIGN KEY (profile_id, customer_id) REFERENCES customers (profile_id, id)
);
CREATE INDEX invoices_customer ON invoices (profile_id, customer_id, invoice_date);

CREATE TABLE invoice_items (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  invoice_id TEXT NOT NULL,
  product_id TEXT,
  line_no INTEGER NOT NULL DEFAULT 1,
  description TEXT,
  hsn_code TEXT,
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  unit_price INTEGER NOT NULL DEFAULT 0,
  discount INTEGER NOT NULL DEFAULT 0,
  taxable_value INTEGER NOT NULL DEFAULT 0,
  gst_rate INTEGER NOT NULL DEFAULT 0,
  cgst_amount INTEGER NOT NULL DEFAULT 0,
  sgst_amount INTEGER NOT NULL DEFAULT 0,
  igst_amount INTEGER NOT NULL DEFAULT 0,
  line_total INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, invoice_id) REFERENCES invoices (profile_id, id) ON DELETE CASCADE,
  FOREIGN KEY (profile_id, product_id) REFERENCES products (profile_id, id)
);
CREATE INDEX invoice_items_invoice ON invoice_items (profile_id, invoice_id);

CREATE TABLE payments (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  invoice_id TEXT,
  amount_received INTEGER NOT NULL CHECK (amount_received > 0),
  payment_mode TEXT NOT NULL
    CHECK (payment_mode IN ('cash', 'upi', 'bank_transfer', 'card', 'cheque', 'other')),
  reference TEXT,
  received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  notes TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, customer_id) REFERENCES customers (profile_id, id),
  FOREIGN KEY (profile_id, invoice_id) REFERENCES invoices (profile_id, id)
);
CREATE INDEX payments_customer ON payments (profile_id, customer_id, received_at);

CREATE TABLE shipments (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  invoice_id TEXT,
  awb_number TEXT,
  courier_name TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  tracking_url TEXT,
  shipped_at TEXT,
  delivered_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, awb_number),
  FOREIGN KEY (profile_id, invoice_id) REFERENCES invoices (profile_id, id)
);

-- Chat conversations (not auth sessions): one per contact and channel.
CREATE TABLE sessions (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  customer_id TEXT,
  channel TEXT NOT NULL DEFAULT 'whatsapp' CHECK (channel IN ('whatsapp', 'telegram', 'web')),
  contact_id TEXT NOT NULL,
  contact_name TEXT,
  is_bot_active INTEGER NOT NULL DEFAULT 1 CHECK (is_bot_active IN (0, 1)),
  last_message_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, channel, contact_id),
  FOREIGN KEY (profile_id, customer_id) REFERENCES customers (profile_id, id)
);

CREATE TABLE unified_messages (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  content TEXT,
  message_type TEXT NOT NULL DEFAULT 'text',
  status TEXT NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed')),
  provider_message_id TEXT,
  metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, provider_message_id),
  FOREIGN KEY (profile_id, session_id) REFERENCES sessions (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX unified_messages_session ON unified_messages (profile_id, session_id, created_at);

CREATE TABLE workflow_blueprints (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  prompt TEXT,
  trigger_event TEXT,
  nodes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(nodes)),
  edges TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(edges)),
  is_active INTEGER NOT NULL DEFAULT 0 CHECK (is_active IN (0, 1)),
  created_by TEXT REFERENCES auth_users (id) ON DELETE SET NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id)
);

CREATE TABLE workflow_logs (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  blueprint_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
  trigger_event_id TEXT,
  step_results TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(step_results)),
  error TEXT,
  started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  finished_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, blueprint_id) REFERENCES workflow_blueprints (profile_id, id) ON DELETE CASCADE
);

-- Outbox of business events, written in the transaction that caused them.
CREATE TABLE events (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  payload TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id)
);
CREATE INDEX events_created ON events (created_at, id);
