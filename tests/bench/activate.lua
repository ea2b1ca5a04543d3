-- wrk: POST /activate, each request with the next unused code of the file in
-- ZTP_BENCH_CODES (one a line), for its own MAC and its own source address
-- (X-Forwarded-For; ztpd trusts 127.0.0.1 as a proxy in this run). Once the
-- codes run out, requests carry a code that does not exist (answered 404).
local codes = {}
for line in io.lines(os.getenv("ZTP_BENCH_CODES")) do
    codes[#codes + 1] = line
end
local nthreads = tonumber(os.getenv("ZTP_BENCH_THREADS") or "2")
local counter = 0

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

function init(args)
    next_index = id + 1
end

request = function()
    local i = next_index
    next_index = next_index + nthreads
    local code = codes[i] or "0000000000000000"
    local body = string.format('{"code":"%s","mac":"00d0%08x"}', code, i)
    local src = string.format("10.%d.%d.%d", math.floor(i / 62500) % 250, math.floor(i / 250) % 250, i % 250 + 1)
    return wrk.format("POST", "/activate", {["Content-Type"] = "application/json", ["X-Forwarded-For"] = src}, body)
end
