-- The customer's open invoices in the order payments and credit pay them
-- (oldest first): a payment reads the first few of them, not every open
-- invoice of the customer sorted anew. Partial, so paid and cancelled
-- invoices (most of them, in time) take no room in it.
CREATE INDEX invoices_open ON invoices (profile_id, customer_id, invoice_date,
  issued_at, invoice_number) WHERE status IN ('pending', 'partially_paid');
