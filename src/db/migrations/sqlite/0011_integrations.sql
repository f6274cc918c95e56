-- Outside services (docs/integrations.md): Shiprocket for shipments,
-- Razorpay for payment links, and what they send back. The PostgreSQL twin
-- of this file says what each column is for. Dimensions are INTEGER
-- hundredths of a cm, weight INTEGER grams (thousandths of a kg).

CREATE TABLE integrations (
  profile_id TEXT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  provider TEXT NOT NULL CHECK (provider IN ('shiprocket', 'razorpay')),
  email TEXT CHECK (length(email) <= 254),
  password TEXT CHECK (length(password) <= 256),
  webhook_token TEXT CHECK (length(webhook_token) BETWEEN 16 AND 256),
  pickup_location TEXT CHECK (length(pickup_location) <= 100),
  key_id TEXT CHECK (key_id GLOB 'rzp_test_?*' OR key_id GLOB 'rzp_live_?*'),
  key_secret TEXT CHECK (length(key_secret) <= 256),
  webhook_secret TEXT CHECK (length(webhook_secret) BETWEEN 1 AND 256),
  is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, provider),
  CHECK (key_id IS NULL OR (length(key_id) <= 49
                            AND substr(key_id, 10) NOT GLOB '*[^A-Za-z0-9]*')),
  CHECK (provider <> 'shiprocket' OR (key_id IS NULL AND key_secret IS NULL
                                      AND webhook_secret IS NULL)),
  CHECK (provider <> 'razorpay' OR (email IS NULL AND password IS NULL
                                    AND webhook_token IS NULL
                                    AND pickup_location IS NULL))
);
CREATE INDEX integrations_by_id ON integrations (id);

CREATE TABLE integration_tokens (
  profile_id TEXT NOT NULL,
  integration_id TEXT NOT NULL,
  token TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  creds_at TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, integration_id),
  FOREIGN KEY (profile_id, integration_id) REFERENCES integrations (profile_id, id)
    ON DELETE CASCADE
);

ALTER TABLE customers ADD COLUMN city TEXT CHECK (length(city) BETWEEN 1 AND 100);
ALTER TABLE customers ADD COLUMN pincode TEXT
  CHECK (pincode GLOB '[1-9][0-9][0-9][0-9][0-9][0-9]');

ALTER TABLE shipments ADD COLUMN provider TEXT CHECK (provider IN ('shiprocket'));
ALTER TABLE shipments ADD COLUMN sr_order_id TEXT CHECK (length(sr_order_id) <= 40);
ALTER TABLE shipments ADD COLUMN sr_shipment_id TEXT CHECK (length(sr_shipment_id) <= 40);
ALTER TABLE shipments ADD COLUMN courier_id TEXT CHECK (length(courier_id) <= 40);
ALTER TABLE shipments ADD COLUMN label_url TEXT CHECK (length(label_url) <= 2048);
ALTER TABLE shipments ADD COLUMN pickup_location TEXT CHECK (length(pickup_location) <= 100);
ALTER TABLE shipments ADD COLUMN pickup_scheduled_at TEXT;
ALTER TABLE shipments ADD COLUMN payment_method TEXT CHECK (payment_method IN ('prepaid', 'cod'));
ALTER TABLE shipments ADD COLUMN length_cm INTEGER CHECK (length_cm > 0);
ALTER TABLE shipments ADD COLUMN breadth_cm INTEGER CHECK (breadth_cm > 0);
ALTER TABLE shipments ADD COLUMN height_cm INTEGER CHECK (height_cm > 0);
ALTER TABLE shipments ADD COLUMN weight_kg INTEGER CHECK (weight_kg > 0);
ALTER TABLE shipments ADD COLUMN status_code INTEGER;
ALTER TABLE shipments ADD COLUMN etd TEXT;
ALTER TABLE shipments ADD COLUMN last_error TEXT CHECK (last_error IS NULL OR json_valid(last_error));
ALTER TABLE shipments ADD COLUMN last_tracked_at TEXT;
CREATE UNIQUE INDEX shipments_invoice ON shipments (profile_id, invoice_id)
  WHERE invoice_id IS NOT NULL AND status <> 'cancelled';
CREATE INDEX shipments_awb ON shipments (awb_number) WHERE awb_number IS NOT NULL;
CREATE INDEX shipments_open ON shipments (last_tracked_at)
  WHERE provider IS NOT NULL AND awb_number IS NOT NULL
    AND status NOT IN ('delivered', 'rto_delivered', 'cancelled', 'lost');

CREATE TABLE shipment_scans (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  shipment_id TEXT NOT NULL,
  scanned_at TEXT NOT NULL,
  status TEXT CHECK (length(status) <= 200),
  activity TEXT CHECK (length(activity) <= 1000),
  location TEXT CHECK (length(location) <= 200),
  status_code INTEGER,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, shipment_id, scanned_at, activity),
  FOREIGN KEY (profile_id, shipment_id) REFERENCES shipments (profile_id, id)
    ON DELETE CASCADE
);

ALTER TABLE payments ADD COLUMN provider TEXT CHECK (provider IN ('razorpay'));
ALTER TABLE payments ADD COLUMN provider_payment_id TEXT
  CHECK (length(provider_payment_id) BETWEEN 1 AND 64);
CREATE UNIQUE INDEX payments_provider_id ON payments (profile_id, provider, provider_payment_id)
  WHERE provider_payment_id IS NOT NULL;

CREATE TABLE refunds (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  payment_id TEXT,
  amount INTEGER NOT NULL CHECK (amount > 0),
  reason TEXT CHECK (length(reason) <= 2000),
  provider TEXT CHECK (provider IN ('razorpay')),
  provider_refund_id TEXT CHECK (length(provider_refund_id) BETWEEN 1 AND 64),
  refunded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, customer_id) REFERENCES customers (profile_id, id),
  FOREIGN KEY (profile_id, payment_id) REFERENCES payments (profile_id, id)
);
CREATE INDEX refunds_customer ON refunds (profile_id, customer_id, refunded_at);
CREATE UNIQUE INDEX refunds_provider_id ON refunds (profile_id, provider, provider_refund_id)
  WHERE provider_refund_id IS NOT NULL;

CREATE TABLE payment_links (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  invoice_id TEXT NOT NULL,
  provider TEXT NOT NULL CHECK (provider IN ('razorpay')),
  provider_link_id TEXT CHECK (length(provider_link_id) <= 64),
  reference_id TEXT NOT NULL CHECK (length(reference_id) <= 40),
  short_url TEXT CHECK (length(short_url) <= 2048),
  amount INTEGER NOT NULL CHECK (amount > 0),
  amount_paid INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'created'
    CHECK (status IN ('created', 'partially_paid', 'paid', 'expired', 'cancelled', 'failed')),
  expire_by TEXT,
  integration_id TEXT,
  last_error TEXT CHECK (last_error IS NULL OR json_valid(last_error)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (reference_id),
  FOREIGN KEY (profile_id, invoice_id) REFERENCES invoices (profile_id, id)
);
CREATE UNIQUE INDEX payment_links_provider_id ON payment_links (provider, provider_link_id)
  WHERE provider_link_id IS NOT NULL;
CREATE INDEX payment_links_invoice ON payment_links (profile_id, invoice_id);

CREATE TABLE webhook_receipts (
  provider TEXT NOT NULL,
  scope TEXT NOT NULL,
  event_id TEXT NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
  profile_id TEXT,
  received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (provider, scope, event_id)
);
CREATE INDEX webhook_receipts_age ON webhook_receipts (received_at);
