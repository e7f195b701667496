-- wrk script for bench/run.sh. Configured by environment variables:
--   WRK_MODE      delete | post | mix (alternating POST then DELETE) | get (GET WRK_PATH)
--   WRK_PATH      path for get mode (e.g. the Cloud number /v22.0/106540352242922)
--   WRK_TOKEN     bearer token (required)
--   WRK_PIN       PIN for POST (default 123456)
--   WRK_DELAY_MS  think time before each request, per connection (default 0)
-- At the end it prints one line `BENCH_JSON {...}` with counts per status class and
-- latency percentiles in microseconds (wrk's own summary is printed as usual).

local mode = os.getenv("WRK_MODE") or "delete"
local token = os.getenv("WRK_TOKEN") or ""
local pin = os.getenv("WRK_PIN") or "123456"
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")

local path = "/v1/settings/account/two-step"
local get_path = os.getenv("WRK_PATH") or path
local auth = { ["Authorization"] = "Bearer " .. token }
local post_headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
local post_body = '{"pin":"' .. pin .. '"}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
local n = 0
ok2xx, s401, s503, s5xx, other = 0, 0, 0, 0, 0

function request()
  n = n + 1
  if mode == "get" then
    return wrk.format("GET", get_path, auth, nil)
  end
  if mode == "post" or (mode == "mix" and n % 2 == 1) then
    return wrk.format("POST", path, post_headers, post_body)
  end
  return wrk.format("DELETE", path, auth, nil)
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
  elseif status == 401 then
    s401 = s401 + 1
  elseif status == 503 then
    s503 = s503 + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c = { ok2xx = 0, s401 = 0, s503 = 0, s5xx = 0, other = 0 }
  for _, t in ipairs(threads) do
    for k, _ in pairs(c) do
      c[k] = c[k] + (t:get(k) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%d,"requests":%d,"ok2xx":%d,"s401":%d,"s503":%d,"s5xx":%d,"other":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,"err_status":%d,' ..
    '"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d}\n',
    summary.duration, summary.requests, c.ok2xx, c.s401, c.s503, c.s5xx, c.other,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
