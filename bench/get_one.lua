-- get_one.lua - one customer by primary key, as supabase-js asks for it:
-- GET /rest/v1/customers?id=eq.<id> with the apikey and a user's token.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

wrk.method = "GET"
wrk.path = "/rest/v1/customers?id=eq." .. os.getenv("BENCH_CUSTOMER_ID")
wrk.headers["apikey"] = os.getenv("BENCH_ANON")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
