-- create_invoice.lua - issues a GST invoice of three lines per request:
-- POST /rest/v1/rpc/create_invoice, each line a different product (and so a
-- different GST rate), one with a fractional quantity. bench/run.sh seeds the
-- products with 10,000,000 units each, so stock never runs out, and passes
-- the ids in BENCH_PRODUCT_IDS (three, comma-separated) and the customers in
-- BENCH_CUSTOMER_IDS (half of them in the business's state 27, the rest in
-- 24 and 29: intra- and inter-state invoices). Consecutive requests go to
-- different customers, as a shop's counter would.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

wrk.method = "POST"
wrk.path = "/rest/v1/rpc/create_invoice"
wrk.headers["apikey"] = os.getenv("BENCH_ANON")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"

local function split(s)
  local t = {}
  for id in string.gmatch(s or "", "[^,]+") do t[#t + 1] = id end
  return t
end

local customers = split(os.getenv("BENCH_CUSTOMER_IDS"))
local products = split(os.getenv("BENCH_PRODUCT_IDS"))
assert(#customers > 0, "BENCH_CUSTOMER_IDS is empty")
assert(#products == 3, "BENCH_PRODUCT_IDS must hold three product ids")
local n = 0

function request()
  n = n + 1
  local c = customers[((tid or 0) * 7919 + n) % #customers + 1]
  local body = string.format(
    '{"customer_id":"%s","items":[' ..
    '{"product_id":"%s","quantity":1},' ..
    '{"product_id":"%s","quantity":2,"discount":1.50},' ..
    '{"product_id":"%s","quantity":0.5}]}',
    c, products[1], products[2], products[3])
  return wrk.format(nil, nil, nil, body)
end
