-- Payment links (integrations/paylink.c): at most one open link per
-- invoice and amount, so two concurrent create_payment_link calls for the
-- same due find one row (and one Razorpay link) instead of making two. A
-- link that was paid in part, expired, was cancelled or failed no longer
-- counts: the next call makes a new one for what is then due.
CREATE UNIQUE INDEX payment_links_open ON payment_links (profile_id, invoice_id, amount)
  WHERE status = 'created';
