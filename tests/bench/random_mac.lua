-- wrk: GET /redirect/{a random claimed MAC}.xml; the range comes from the environment.
local first = tonumber(os.getenv("ZTP_BENCH_FIRST"))
local count = tonumber(os.getenv("ZTP_BENCH_COUNT"))
local ua = "Cisco-CP-8845-3PCC/11.3.1"

function setup(thread)
    thread:set("seed", math.random(1, 1000000))
end

function init(args)
    math.randomseed(seed + os.time())
end

request = function()
    local mac = first + math.random(0, count - 1)
    return wrk.format("GET", string.format("/redirect/%012x.xml", mac), {["User-Agent"] = ua})
end
