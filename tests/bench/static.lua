-- wrk: the same answer as a static file, as the baseline.
request = function()
    return wrk.format("GET", "/redirect/profile.xml", {["User-Agent"] = "Cisco-CP-8845-3PCC/11.3.1"})
end
