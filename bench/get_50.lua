-- get_50.lua - a page of 50 customers: four columns, a filter, an order.
-- bench/run.sh seeds enough customers in state 27 that the page is full.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

wrk.method = "GET"
wrk.path = "/rest/v1/customers?select=id,full_name,phone_number,total_debt" ..
           "&state_code=eq.27&order=full_name.asc&limit=50"
wrk.headers["apikey"] = os.getenv("BENCH_ANON")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
