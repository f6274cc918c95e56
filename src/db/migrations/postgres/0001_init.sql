-- munshi schema, PostgreSQL. Money is numeric(14,2), quantities numeric(14,3),
-- GST rates numeric(5,2) percent. profile_id leads every key of a tenant-owned
-- table, so no row can point into another business. Ids are UUIDv7 made by
-- the server; timestamps are set by the server (defaults are a safety net).

CREATE TABLE auth_users (
  id uuid PRIMARY KEY,
  email text NOT NULL UNIQUE,
  encrypted_password text NOT NULL,
  raw_user_meta_data jsonb NOT NULL DEFAULT '{}',
  email_confirmed_at timestamptz,
  last_sign_in_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_sessions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
  user_agent text,
  ip text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

-- Refresh tokens are kept as SHA-256 hashes; each is good once (rotation).
CREATE TABLE auth_refresh_tokens (
  token_hash text PRIMARY KEY,
  session_id uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
  revoked boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at timestamptz
);
CREATE INDEX auth_refresh_tokens_session ON auth_refresh_tokens (session_id);

CREATE TABLE profiles (
  id uuid PRIMARY KEY REFERENCES auth_users (id) ON DELETE CASCADE,
  business_name text,
  gst_number text,
  whatsapp_number text UNIQUE,
  state_code text CHECK (state_code ~ '^[0-9]{2}$'),
  address text,
  upi_id text,
  invoice_prefix text NOT NULL DEFAULT 'INV',
  allow_negative_stock boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (gst_number IS NULL OR state_code = substr(gst_number, 1, 2))
);

CREATE TABLE customers (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  full_name text NOT NULL,
  phone_number text,
  email text,
  gstin text,
  state_code text CHECK (state_code ~ '^[0-9]{2}$'),
  address text,
  total_debt numeric(14,2) NOT NULL DEFAULT 0,
  notes text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, phone_number),
  -- a registered customer's state is the one its GSTIN names
  CHECK (gstin IS NULL OR state_code = substr(gstin, 1, 2))
);

CREATE TABLE products (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  name text NOT NULL,
  sku text,
  hsn_code text CHECK (hsn_code ~ '^([0-9]{4}|[0-9]{6}|[0-9]{8})$'),
  unit text NOT NULL DEFAULT 'pcs',
  gst_rate numeric(5,2) NOT NULL DEFAULT 0 CHECK (gst_rate >= 0 AND gst_rate <= 100),
  base_price numeric(14,2) NOT NULL DEFAULT 0 CHECK (base_price >= 0),
  current_stock numeric(14,3) NOT NULL DEFAULT 0,
  low_stock_threshold numeric(14,3),
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, sku)
);

CREATE TABLE invoices (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  customer_id uuid NOT NULL,
  invoice_number text,
  invoice_date date NOT NULL,
  due_date date,
  place_of_supply text,
  status text NOT NULL DEFAULT 'draft'
    CHECK (status IN ('draft', 'pending', 'partially_paid', 'paid', 'cancelled')),
  subtotal numeric(14,2) NOT NULL DEFAULT 0,
  cgst_amount numeric(14,2) NOT NULL DEFAULT 0,
  sgst_amount numeric(14,2) NOT NULL DEFAULT 0,
  igst_amount numeric(14,2) NOT NULL DEFAULT 0,
  round_off numeric(14,2) NOT NULL DEFAULT 0,
  total_amount numeric(14,2) NOT NULL DEFAULT 0,
  amount_paid numeric(14,2) NOT NULL DEFAULT 0,
  balance_due numeric(14,2) NOT NULL DEFAULT 0,
  notes text,
  cancel_reason text,
  issued_at timestamptz,
  cancelled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, invoice_number),
  FOREIGN KEY (profile_id, customer_id) REFERENCES customers (profile_id, id)
);
CREATE INDEX invoices_customer ON invoices (profile_id, customer_id, invoice_date);

CREATE TABLE invoice_items (
  profile_id uuid NOT NULL,
  id uuid NOT NULL,
  invoice_id uuid NOT NULL,
  product_id uuid,
  line_no integer NOT NULL DEFAULT 1,
  description text,
  hsn_code text,
  quantity numeric(14,3) NOT NULL CHECK (quantity > 0),
  unit_price numeric(14,2) NOT NULL DEFAULT 0,
  discount numeric(14,2) NOT NULL DEFAULT 0,
  taxable_value numeric(14,2) NOT NULL DEFAULT 0,
  gst_rate numeric(5,2) NOT NULL DEFAULT 0,
  cgst_amount numeric(14,2) NOT NULL DEFAULT 0,
  sgst_amount numeric(14,2) NOT NULL DEFAULT 0,
  igst_amount numeric(14,2) NOT NULL DEFAULT 0,
  line_total numeric(14,2) NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, invoice_id) REFERENCES invoices (profile_id, id) ON DELETE CASCADE,
  FOREIGN KEY (profile_id, product_id) REFERENCES products (profile_id, id)
);
CREATE INDEX invoice_items_invoice ON invoice_items (profile_id, invoice_id);

CREATE TABLE payments (
  profile_id uuid NOT NULL,
  id uuid NOT NULL,
  customer_id uuid NOT NULL,
  invoice_id uuid,
  amount_received numeric(14,2) NOT NULL CHECK (amount_received > 0),
  payment_mode text NOT NULL
    CHECK (payment_mode IN ('cash', 'upi', 'bank_transfer', 'card', 'cheque', 'other')),
  reference text,
  received_at timestamptz NOT NULL DEFAULT now(),
  notes text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, customer_id) REFERENCES customers (profile_id, id),
  FOREIGN KEY (profile_id, invoice_id) REFERENCES invoices (profile_id, id)
);
CREATE INDEX payments_customer ON payments (profile_id, customer_id, received_at);

CREATE TABLE shipments (
  profile_id uuid NOT NULL,
  id uuid NOT NULL,
  invoice_id uuid,
  awb_number text,
  courier_name text,
  status text NOT NULL DEFAULT 'pending',
  tracking_url text,
  shipped_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, awb_number),
  FOREIGN KEY (profile_id, invoice_id) REFERENCES invoices (profile_id, id)
);

-- Chat conversations (not auth sessions): one per contact and channel.
CREATE TABLE sessions (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  customer_id uuid,
  channel text NOT NULL DEFAULT 'whatsapp' CHECK (channel IN ('whatsapp', 'telegram', 'web')),
  contact_id text NOT NULL,
  contact_name text,
  is_bot_active boolean NOT NULL DEFAULT true,
  last_message_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, channel, contact_id),
  FOREIGN KEY (profile_id, customer_id) REFERENCES customers (profile_id, id)
);

CREATE TABLE unified_messages (
  profile_id uuid NOT NULL,
  id uuid NOT NULL,
  session_id uuid NOT NULL,
  direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  content text,
  message_type text NOT NULL DEFAULT 'text',
  status text NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed')),
  provider_message_id text,
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, provider_message_id),
  FOREIGN KEY (profile_id, session_id) REFERENCES sessions (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX unified_messages_session ON unified_messages (profile_id, session_id, created_at);

CREATE TABLE workflow_blueprints (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  name text NOT NULL,
  description text,
  prompt text,
  trigger_event text,
  nodes jsonb NOT NULL DEFAULT '[]',
  edges jsonb NOT NULL DEFAULT '[]',
  is_active boolean NOT NULL DEFAULT false,
  created_by uuid REFERENCES auth_users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id)
);

CREATE TABLE workflow_logs (
  profile_id uuid NOT NULL,
  id uuid NOT NULL,
  blueprint_id uuid NOT NULL,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
  trigger_event_id uuid,
  step_results jsonb NOT NULL DEFAULT '[]',
  error text,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, blueprint_id) REFERENCES workflow_blueprints (profile_id, id) ON DELETE CASCADE
);

-- Outbox of business events, written in the transaction that caused them.
CREATE TABLE events (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  event_type text NOT NULL,
  entity_type text NOT NULL,
  entity_id uuid NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id)
);
CREATE INDEX events_created ON events (created_at, id);
