-- rpc/create_shipment's own bookkeeping (integrations/shipment.c), never
-- shown over REST. step_lease_until: one request at a time works on a
-- shipment's steps (a second one, concurrent, is told to try again rather
-- than racing it to Shiprocket). order_sent_at: when the order was first
-- sent to Shiprocket; a retry of a shipment that has it but no
-- sr_order_id searches Shiprocket for the order (by the channel order id
-- munshi sent, the shipment's id) before it makes one, since an answer
-- lost to a timeout may hide an order that exists.
ALTER TABLE shipments ADD COLUMN step_lease_until timestamptz;
ALTER TABLE shipments ADD COLUMN order_sent_at timestamptz;
