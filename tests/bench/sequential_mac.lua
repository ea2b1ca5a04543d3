-- wrk: GET /redirect/{mac}.xml for every MAC of the range in turn (each phone asks at least once).
local first = tonumber(os.getenv("ZTP_BENCH_FIRST"))
local count = tonumber(os.getenv("ZTP_BENCH_COUNT"))
local ua = "Cisco-CP-8845-3PCC/11.3.1"
local threads = 0

function setup(thread)
    thread:set("id", threads)
    threads = threads + 1
end

local i = 0
request = function()
    local mac = first + ((i * 2 + id) % count)
    i = i + 1
    return wrk.format("GET", string.format("/redirect/%012x.xml", mac), {["User-Agent"] = ua})
end
