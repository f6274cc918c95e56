-- chat_webhooks.lua - posts pre-signed WhatsApp webhooks (bench/chat_gen.mjs
-- wrote them, one "signature TAB body" per line) to the channel's webhook,
-- each thread its own share of the lines, in order; when a thread runs out
-- it starts over (redeliveries, which the server acknowledges and drops;
-- bench/chat.sh warns when a run sent more requests than the file holds).
--   wrk ... -s bench/chat_webhooks.lua URL -- <file> <wrk threads>
-- BENCH_CHAT_PATH: /webhooks/whatsapp/<channel id>.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

local path = os.getenv("BENCH_CHAT_PATH")
local sigs, bodies, n, i = {}, {}, 0, 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  local file, nthreads = args[1], tonumber(args[2]) or 1
  local k = 0
  for line in io.lines(file) do
    if k % nthreads == (tid - 1) then
      local tab = line:find("\t", 1, true)
      n = n + 1
      sigs[n] = line:sub(1, tab - 1)
      bodies[n] = line:sub(tab + 1)
    end
    k = k + 1
  end
end

function request()
  i = i + 1
  if i > n then i = 1 end
  headers["X-Hub-Signature-256"] = sigs[i]
  return wrk.format("POST", path, headers, bodies[i])
end
