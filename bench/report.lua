-- report.lua - loaded by every scenario. It numbers wrk's threads (the
-- global `tid` in each of them) and, when the run ends, prints one line that
-- bench/run.sh parses:
--   RESULT requests=N rps=R p50_ms=X p99_ms=Y max_ms=Z bytes_per_resp=B
--          non2xx=E socket_errors=S
-- non2xx is wrk's count of responses with a status of 400 or more (this API
-- answers no 1xx/3xx to these requests); socket_errors adds up connect, read,
-- write and timeout errors.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "bytes_per_resp=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests > 0 and
    math.floor(summary.bytes / summary.requests) or 0,
    e.status, e.connect + e.read + e.write + e.timeout))
end
