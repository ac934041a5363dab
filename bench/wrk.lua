-- wrk's side of bench/run.sh: the same requests as Kbl.LoadGen's HTTP client (keys key-000000000000 … of colony
-- WRK_COLONY, values of WRK_VALUE_SIZE letters), from a load generator written in C that needs a fraction of the
-- CPU .NET's HttpClient does — so on a shared 2-core machine more of it is left to the server.
--   WRK_OP=get|put|noop WRK_COLONY=bench WRK_KEYS=10000 WRK_VALUE_SIZE=100 wrk -t2 -c32 -d10s -s bench/wrk.lua URL
-- At the end it prints one line, "wrk-result requests seconds p50_ms p99_ms p999_ms errors", for run.sh.
local op = os.getenv("WRK_OP") or "get"
local colony = os.getenv("WRK_COLONY") or "bench"
local keys = tonumber(os.getenv("WRK_KEYS") or "10000")
local size = tonumber(os.getenv("WRK_VALUE_SIZE") or "100")

local value = {}
for i = 0, size - 1 do
  value[#value + 1] = string.char(97 + i % 26)
end
value = table.concat(value)

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  math.randomseed(os.time() * 100 + id) -- each thread its own sequence of keys
end

function request()
  if op == "noop" then
    return wrk.format("GET", "/healthz")
  end
  local path = string.format("/v1/colonies/%s/records/key-%012d", colony, math.random(0, keys - 1))
  if op == "put" then
    return wrk.format("PUT", path, nil, value)
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-result %d %.6f %.3f %.3f %.3f %d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
