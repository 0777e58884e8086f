-- wrk script for scripts/loadtest.sh: replays pre-signed requests, each a
-- distinct delivery, and prints one machine-readable line at the end.
--
--   wrk -s scripts/loadtest.lua URL -- REQUESTS_FILE THREADS
--
-- REQUESTS_FILE (from `hand_written --requests N`): a line "LENGTH COUNT",
-- then COUNT raw requests of LENGTH bytes. Thread k of THREADS sends
-- requests k, k + THREADS, ... and stops when it has sent its share, so no
-- delivery id is sent twice. (wrk calls thread 0's request() once before
-- the run, to check the script: that request is read but never sent, so
-- thread 0 sends one fewer than its share.)
--
-- Requests are read from the file as they are sent, BATCH of this thread's
-- at a time: init only opens the file and reads its header. wrk starts each
-- thread as soon as its init returns but its clock only after the last one,
-- so an init that loaded the whole file let the first thread send, uncounted
-- by the clock, while the others were still loading.

local BATCH = 128

local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  local path = args[1]
  threads = tonumber(args[2])
  assert(threads and threads >= 1, "THREADS must be a positive integer")
  file = assert(io.open(path, "rb"))
  local header = assert(file:read("*l"), "empty requests file")
  local size, count = header:match("^(%d+) (%d+)$")
  assert(size, "bad header in " .. path)
  length, count = tonumber(size), tonumber(count)
  -- This thread's requests: thread_index + i * threads for i < left.
  left = count > thread_index and math.floor((count - 1 - thread_index) / threads) + 1 or 0
  -- The file is read forward in spans of whole groups of `threads`
  -- requests; this thread takes the thread_index-th of each group.
  assert(file:seek("set", #header + 1))
  batch, taken = {}, 0
end

-- Reads the next spans of requests and keeps this thread's ones.
local function refill()
  local n = math.min(BATCH, left)
  local span = file:read(n * threads * length)
  batch, taken = {}, 0
  for i = 0, n - 1 do
    local from = (i * threads + thread_index) * length + 1
    local request = span and span:sub(from, from + length - 1)
    assert(request and #request == length, "requests file shorter than its header says")
    batch[i + 1] = request
  end
end

function request()
  if left == 0 then
    -- Called again only by connections that were already due to write in
    -- the event loop pass that stopped this thread: send them nothing
    -- rather than a delivery that was sent already.
    wrk.thread:stop()
    return ""
  end
  if taken == #batch then
    refill()
  end
  taken = taken + 1
  left = left - 1
  if left == 0 then
    wrk.thread:stop()
  end
  return batch[taken]
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d seconds=%.2f\n",
    summary.requests / seconds, latency:percentile(50), latency:percentile(99),
    summary.requests, errors, seconds))
end
