-- record_payment.lua - records a small payment (₹1.00 by UPI) per request:
-- POST /rest/v1/rpc/record_payment, spread over the seeded customers
-- (BENCH_CUSTOMER_IDS, comma-separated, from bench/run.sh) so requests do not
-- all queue on one customer's row. Each payment lowers the customer's debt
-- and is allocated to its oldest open invoices (those create_invoice left);
-- what is left becomes credit.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

wrk.method = "POST"
wrk.path = "/rest/v1/rpc/record_payment"
wrk.headers["apikey"] = os.getenv("BENCH_ANON")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"

local customers = {}
for id in string.gmatch(os.getenv("BENCH_CUSTOMER_IDS") or "", "[^,]+") do
  customers[#customers + 1] = id
end
assert(#customers > 0, "BENCH_CUSTOMER_IDS is empty")
local n = 0

function request()
  n = n + 1
  local c = customers[((tid or 0) * 104729 + n * 31) % #customers + 1]
  local body = string.format(
    '{"customer_id":"%s","amount_received":1.00,"payment_mode":"upi"}', c)
  return wrk.format(nil, nil, nil, body)
end
