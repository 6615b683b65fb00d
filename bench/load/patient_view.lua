-- wrk script: POST one realistic patient-view request (full prefetch) per call.
-- Arguments: BODY_FILE [TOKEN_FILE_PREFIX|none]. Each wrk thread reads its own token file
-- (PREFIX.1, PREFIX.2, ...) so every request carries a fresh, unreplayed client JWT.
local counter = 1
local threads = {}

function setup(thread)
  thread:set("id", counter)
  thread:set("exhausted", 0)
  threads[counter] = thread
  counter = counter + 1
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  body = file:read("*a")
  file:close()
  tokens = {}
  if args[2] and args[2] ~= "none" then
    local tf = assert(io.open(args[2] .. "." .. id, "r"))
    for line in tf:lines() do
      tokens[#tokens + 1] = line
    end
    tf:close()
  end
  next_token = 0
end

function request()
  local headers = { ["Content-Type"] = "application/json" }
  if #tokens > 0 then
    next_token = next_token + 1
    if next_token > #tokens then
      -- out of tokens: the last one is replayed (a 401, counted) and reported as such
      exhausted = exhausted + 1
    end
    headers["Authorization"] = "Bearer " .. (tokens[next_token] or tokens[#tokens])
  end
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local exhausted_total = 0
  for _, thread in pairs(threads) do
    exhausted_total = exhausted_total + (thread:get("exhausted") or 0)
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, ' ..
    '"errors_status": %d, "errors_timeout": %d, "tokens_exhausted": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout,
    exhausted_total))
end
