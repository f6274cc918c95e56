-- rpc/create_shipment's own bookkeeping (see the PostgreSQL migration).
ALTER TABLE shipments ADD COLUMN step_lease_until TEXT;
ALTER TABLE shipments ADD COLUMN order_sent_at TEXT;
