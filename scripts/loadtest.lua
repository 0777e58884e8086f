-- wrk script for scripts/loadtest.sh: replays pre-signed requests, each a
-- distinct delivery, and prints one machine-readable line at the end.
--
--   wrk -s scripts/loadtest.lua URL -- REQUESTS_FILE THREADS
--
-- REQUESTS_FILE (from `hand_written --requests N`): a line "LENGTH COUNT",
-- then COUNT raw requests of LENGTH bytes. Thread k of THREADS sends
-- requests k, k + THREADS, ... and stops when it has sent its share, so no
-- delivery id is sent twice.

local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  local path, threads = args[1], tonumber(args[2])
  local file = assert(io.open(path, "rb"))
  local length, count = file:read("*n", "*n")
  file:read("*l")
  local data = file:read("*a")
  file:close()
  requests = {}
  for i = thread_index, count - 1, threads do
    requests[#requests + 1] = data:sub(i * length + 1, (i + 1) * length)
  end
  data = nil
  collectgarbage()
  sent = 0
end

function request()
  sent = sent + 1
  if sent >= #requests then
    wrk.thread:stop()
  end
  return requests[math.min(sent, #requests)]
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d seconds=%.2f\n",
    summary.requests / seconds, latency:percentile(50), latency:percentile(99),
    summary.requests, errors, seconds))
end
