-- post_one.lua - inserts one customer per request, Prefer: return=minimal.
--
-- phone_number is unique per business, so every request carries a new one:
-- "+9" then the run number (the script's argument, distinct for each run
-- against one database), the wrk thread and a per-thread counter. The seed
-- customers' numbers start with "+8", so none of these can collide (a 409
-- would show up as non-2xx). State 29 keeps get_50's page unchanged.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

wrk.method = "POST"
wrk.path = "/rest/v1/customers"
wrk.headers["apikey"] = os.getenv("BENCH_ANON")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Prefer"] = "return=minimal"

local run, n = 0, 0

function init(args)
  run = tonumber(args[1]) or 0
end

function request()
  n = n + 1
  local body = string.format(
    '{"full_name":"Bench %d-%d-%d","phone_number":"+9%02d%02d%09d",' ..
    '"state_code":"29"}',
    run, tid or 0, n, run % 100, (tid or 0) % 100, n % 1000000000)
  return wrk.format(nil, nil, nil, body)
end
