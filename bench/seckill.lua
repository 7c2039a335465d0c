-- wrk script for Course Seckill: one POST per request to
--   <BENCH_PATH>/<course>/<user>
-- with a course drawn from BENCH_COURSES and a user id never used before in
-- this run (threads draw from disjoint ranges), so every request is a new
-- buyer. Counts the answers by the `status` in the JSON body, and prints one
-- machine-readable line in done():
--   BENCH requests=N rps=R p50_ms=X p99_ms=Y accepted=A statuses=pending:1,sold_out:2
--
-- Environment:
--   BENCH_PATH      default /api/seckill (the ceiling uses /bench/ceiling)
--   BENCH_COURSES   comma-separated course ids, default 1,2,3,4,5,6
--   BENCH_REQUESTS  total requests, shared by the threads; once a thread
--                   has sent its share it stops (0: run for -d)
--   BENCH_USER_BASE first user id of the run (default: from the clock, so
--                   two runs never share a buyer)

local threads = {}
local counter = 0

-- A wall clock: wrk has none for Lua, LuaJIT reaches clock_gettime(2).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *ts);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local function now()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local function env(name, default)
    local v = os.getenv(name)
    if v == nil or v == "" then return default end
    return v
end

function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
    table.insert(threads, thread)
end

function init(args)
    path = env("BENCH_PATH", "/api/seckill")
    courses = {}
    for c in env("BENCH_COURSES", "1,2,3,4,5,6"):gmatch("%d+") do
        table.insert(courses, c)
    end
    local nthreads = tonumber(env("BENCH_THREADS", "2"))
    local total = tonumber(env("BENCH_REQUESTS", "0"))
    quota = total > 0 and math.ceil(total / nthreads) or 0
    -- 10^9 users per thread: disjoint ranges, no buyer twice in a run.
    local base = tonumber(env("BENCH_USER_BASE", tostring(os.time() % 100000 * 100000)))
    next_user = base * 10 + id * 1000000000
    sent, answered = 0, 0
    first, last = 0, 0
    counts = {}
    math.randomseed(id * 7919 + os.time())
end

function request()
    if sent == 0 then first = now() end
    sent = sent + 1
    next_user = next_user + 1
    local course = courses[math.random(#courses)]
    return wrk.format("POST", path .. "/" .. course .. "/" .. next_user)
end

function response(status, headers, body)
    local verdict = body:match('"status":"([%a_]+)"') or ("http_" .. status)
    counts[verdict] = (counts[verdict] or 0) + 1
    answered = answered + 1
    last = now()
    if quota > 0 and answered >= quota then
        wrk.thread:stop()
    end
end

function done(summary, latency, requests)
    local totals, answered_all = {}, 0
    local started, ended = math.huge, 0
    for _, t in ipairs(threads) do
        local f, l = t:get("first"), t:get("last")
        if f > 0 and f < started then started = f end
        if l > ended then ended = l end
        local c = t:get("counts")
        for k, v in pairs(c) do
            totals[k] = (totals[k] or 0) + v
            answered_all = answered_all + v
        end
    end
    local parts = {}
    for k, v in pairs(totals) do table.insert(parts, k .. ":" .. v) end
    table.sort(parts)
    -- wrk always runs for its whole -d, even when every thread stopped
    -- early at its share of BENCH_REQUESTS, so the rate is taken over the
    -- time the requests really took: from the first request sent to the
    -- last response read, on any thread.
    local rps = 0
    if ended > started then
        rps = answered_all / (ended - started)
    end
    io.write(string.format(
        "BENCH requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f accepted=%d statuses=%s\n",
        answered_all, rps,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        totals["pending"] or 0, table.concat(parts, ",")))
end
