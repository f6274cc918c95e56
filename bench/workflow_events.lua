-- workflow_events.lua - the workflows scenario's load (bench/workflows.sh):
-- post_one.lua's customer inserts (each writes one customer.created event),
-- paced when BENCH_WF_DELAY_MS is set: every connection waits that long
-- before each request, so the events come at a known rate instead of as
-- fast as the server takes them.
dofile(os.getenv("BENCH_DIR") .. "/post_one.lua")

local pause = tonumber(os.getenv("BENCH_WF_DELAY_MS") or "0") or 0
if pause > 0 then
  function delay()
    return pause
  end
end
