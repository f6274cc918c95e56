-- payment_webhooks.lua - posts pre-signed Razorpay webhooks (bench/pay_gen.mjs
-- wrote them, "signature TAB event id TAB body" per line, in pairs of two
-- events of one payment) to the integration's webhook. Each thread takes
-- whole pairs (pair k goes to thread k % threads), so the two events of a
-- payment go out back to back on the thread's connections, concurrently.
-- When a thread runs out it starts over (replays, which the server answers
-- and ignores; bench/paywebhooks.sh warns then).
--   wrk ... -s bench/payment_webhooks.lua URL -- <file> <wrk threads>
-- BENCH_PAY_PATH: /webhooks/razorpay/<integration id>.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

local path = os.getenv("BENCH_PAY_PATH")
local sigs, ids, bodies, n, i = {}, {}, {}, 0, 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  local file, nthreads = args[1], tonumber(args[2]) or 1
  local k = 0
  for line in io.lines(file) do
    if math.floor(k / 2) % nthreads == (tid - 1) then
      local t1 = line:find("\t", 1, true)
      local t2 = line:find("\t", t1 + 1, true)
      n = n + 1
      sigs[n] = line:sub(1, t1 - 1)
      ids[n] = line:sub(t1 + 1, t2 - 1)
      bodies[n] = line:sub(t2 + 1)
    end
    k = k + 1
  end
end

function request()
  i = i + 1
  if i > n then i = 1 end
  headers["X-Razorpay-Signature"] = sigs[i]
  headers["x-razorpay-event-id"] = ids[i]
  return wrk.format("POST", path, headers, bodies[i])
end
