-- Outside services (docs/integrations.md): Shiprocket for shipments,
-- Razorpay for payment links, and what they send back (tracking scans,
-- payments, refunds), each recorded once.

-- Credentials, one row per provider per business. The secrets (password,
-- webhook_token, key_secret, webhook_secret) are write-only through the
-- API: they read as null, and never reach the live feed. Webhook URLs name
-- the integration by id alone, hence the index on id.
CREATE TABLE integrations (
  profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  provider text NOT NULL CHECK (provider IN ('shiprocket', 'razorpay')),
  -- Shiprocket: the API user's email and password; the token Shiprocket
  -- is set to send as x-api-key with its tracking webhooks; the pickup
  -- location's nickname used when a shipment names none.
  email text CHECK (length(email) <= 254),
  password text CHECK (length(password) <= 256),
  webhook_token text CHECK (length(webhook_token) BETWEEN 16 AND 256),
  pickup_location text CHECK (length(pickup_location) <= 100),
  -- Razorpay: the key pair, and the secret its webhooks are signed with.
  key_id text CHECK (key_id ~ '^rzp_(test|live)_[A-Za-z0-9]{1,40}$'),
  key_secret text CHECK (length(key_secret) <= 256),
  webhook_secret text CHECK (length(webhook_secret) BETWEEN 1 AND 256),
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, provider),
  CHECK (provider <> 'shiprocket' OR (key_id IS NULL AND key_secret IS NULL
                                      AND webhook_secret IS NULL)),
  CHECK (provider <> 'razorpay' OR (email IS NULL AND password IS NULL
                                    AND webhook_token IS NULL
                                    AND pickup_location IS NULL))
);
CREATE INDEX integrations_by_id ON integrations (id);

-- A provider's session token (Shiprocket's lasts 10 days), shared by every
-- munshi process on the database. Server-only: not exposed over REST.
-- creds_at is the integration's updated_at when the token was made: new
-- credentials make an old token stale.
CREATE TABLE integration_tokens (
  profile_id uuid NOT NULL,
  integration_id uuid NOT NULL,
  token text NOT NULL,
  expires_at timestamptz NOT NULL,
  creds_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, integration_id),
  FOREIGN KEY (profile_id, integration_id) REFERENCES integrations (profile_id, id)
    ON DELETE CASCADE
);

-- Shiprocket needs the delivery city and PIN code.
ALTER TABLE customers ADD COLUMN city text CHECK (length(city) BETWEEN 1 AND 100);
ALTER TABLE customers ADD COLUMN pincode text CHECK (pincode ~ '^[1-9][0-9]{5}$');

-- A shipment made through Shiprocket keeps each step of its making
-- (order, AWB, pickup, label) and the last error, so a retry continues
-- where it stopped. status: pending → order_created → awb_assigned →
-- pickup_scheduled → picked_up → in_transit → out_for_delivery →
-- delivered, or off that path undelivered, rto (returning), rto_delivered,
-- cancelled, lost; it never moves backwards (integrations/shipment.c).
ALTER TABLE shipments ADD COLUMN provider text CHECK (provider IN ('shiprocket'));
ALTER TABLE shipments ADD COLUMN sr_order_id text CHECK (length(sr_order_id) <= 40);
ALTER TABLE shipments ADD COLUMN sr_shipment_id text CHECK (length(sr_shipment_id) <= 40);
ALTER TABLE shipments ADD COLUMN courier_id text CHECK (length(courier_id) <= 40);
ALTER TABLE shipments ADD COLUMN label_url text CHECK (length(label_url) <= 2048);
ALTER TABLE shipments ADD COLUMN pickup_location text CHECK (length(pickup_location) <= 100);
ALTER TABLE shipments ADD COLUMN pickup_scheduled_at timestamptz;
ALTER TABLE shipments ADD COLUMN payment_method text CHECK (payment_method IN ('prepaid', 'cod'));
ALTER TABLE shipments ADD COLUMN length_cm numeric(8,2) CHECK (length_cm > 0);
ALTER TABLE shipments ADD COLUMN breadth_cm numeric(8,2) CHECK (breadth_cm > 0);
ALTER TABLE shipments ADD COLUMN height_cm numeric(8,2) CHECK (height_cm > 0);
ALTER TABLE shipments ADD COLUMN weight_kg numeric(8,3) CHECK (weight_kg > 0);
-- Shiprocket's own status id of the last update, and its etd.
ALTER TABLE shipments ADD COLUMN status_code integer;
ALTER TABLE shipments ADD COLUMN etd timestamptz;
-- {"step", "status", "message", "errors": {field: [text]}}: why the last
-- attempt stopped; null once a step succeeds.
ALTER TABLE shipments ADD COLUMN last_error jsonb;
ALTER TABLE shipments ADD COLUMN last_tracked_at timestamptz;
-- At most one live shipment per invoice: a retry finds it, a second
-- create_shipment is refused.
CREATE UNIQUE INDEX shipments_invoice ON shipments (profile_id, invoice_id)
  WHERE invoice_id IS NOT NULL AND status <> 'cancelled';
-- The webhook and the tracking job find shipments by AWB across businesses.
CREATE INDEX shipments_awb ON shipments (awb_number) WHERE awb_number IS NOT NULL;
CREATE INDEX shipments_open ON shipments (last_tracked_at)
  WHERE provider IS NOT NULL AND awb_number IS NOT NULL
    AND status NOT IN ('delivered', 'rto_delivered', 'cancelled', 'lost');

-- Every tracking scan, once (a webhook repeats the earlier ones).
CREATE TABLE shipment_scans (
  profile_id uuid NOT NULL,
  id uuid NOT NULL,
  shipment_id uuid NOT NULL,
  scanned_at timestamptz NOT NULL,
  status text CHECK (length(status) <= 200),
  activity text CHECK (length(activity) <= 1000),
  location text CHECK (length(location) <= 200),
  status_code integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, shipment_id, scanned_at, activity),
  FOREIGN KEY (profile_id, shipment_id) REFERENCES shipments (profile_id, id)
    ON DELETE CASCADE
);

-- A payment a provider reported is recorded once for ever: its id is
-- unique per business (Idempotency-Keys expire; provider ids do not).
ALTER TABLE payments ADD COLUMN provider text CHECK (provider IN ('razorpay'));
ALTER TABLE payments ADD COLUMN provider_payment_id text
  CHECK (length(provider_payment_id) BETWEEN 1 AND 64);
CREATE UNIQUE INDEX payments_provider_id ON payments (profile_id, provider, provider_payment_id)
  WHERE provider_payment_id IS NOT NULL;

-- Money given back: the customer's dues rise by amount (biz record_refund).
CREATE TABLE refunds (
  profile_id uuid NOT NULL,
  id uuid NOT NULL,
  customer_id uuid NOT NULL,
  payment_id uuid,
  amount numeric(14,2) NOT NULL CHECK (amount > 0),
  reason text CHECK (length(reason) <= 2000),
  provider text CHECK (provider IN ('razorpay')),
  provider_refund_id text CHECK (length(provider_refund_id) BETWEEN 1 AND 64),
  refunded_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, customer_id) REFERENCES customers (profile_id, id),
  FOREIGN KEY (profile_id, payment_id) REFERENCES payments (profile_id, id)
);
CREATE INDEX refunds_customer ON refunds (profile_id, customer_id, refunded_at);
CREATE UNIQUE INDEX refunds_provider_id ON refunds (profile_id, provider, provider_refund_id)
  WHERE provider_refund_id IS NOT NULL;

-- Payment links made for invoices. reference_id is what the provider
-- echoes back; it is unique across businesses, so a webhook of a shared
-- account finds its business from it.
CREATE TABLE payment_links (
  profile_id uuid NOT NULL,
  id uuid NOT NULL,
  invoice_id uuid NOT NULL,
  provider text NOT NULL CHECK (provider IN ('razorpay')),
  provider_link_id text CHECK (length(provider_link_id) <= 64),
  reference_id text NOT NULL CHECK (length(reference_id) <= 40),
  short_url text CHECK (length(short_url) <= 2048),
  amount numeric(14,2) NOT NULL CHECK (amount > 0),
  amount_paid numeric(14,2) NOT NULL DEFAULT 0,
  status text NOT NULL DEFAULT 'created'
    CHECK (status IN ('created', 'partially_paid', 'paid', 'expired', 'cancelled', 'failed')),
  expire_by timestamptz,
  -- The account that made it: an integration's id, or null for the
  -- deployment's shared account (MUNSHI_RAZORPAY_KEY_ID).
  integration_id uuid,
  last_error jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  UNIQUE (reference_id),
  FOREIGN KEY (profile_id, invoice_id) REFERENCES invoices (profile_id, id)
);
CREATE UNIQUE INDEX payment_links_provider_id ON payment_links (provider, provider_link_id)
  WHERE provider_link_id IS NOT NULL;
CREATE INDEX payment_links_invoice ON payment_links (profile_id, invoice_id);

-- Webhook deliveries already handled, by the provider's event id (Razorpay:
-- x-razorpay-event-id), per account: scope is the integration's id, or
-- 'global' for the shared account. Purged after the retention.
CREATE TABLE webhook_receipts (
  provider text NOT NULL,
  scope text NOT NULL,
  event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
  profile_id uuid,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, scope, event_id)
);
CREATE INDEX webhook_receipts_age ON webhook_receipts (received_at);
