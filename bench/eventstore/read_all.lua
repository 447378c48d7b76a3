-- wrk script: $all reads, 100 events per page with bodies, at pages spread over the log.
-- The runner passes the page positions to read (valid record positions) as arguments.
local targets = {}

function init(args)
  math.randomseed(tonumber(tostring({}):match("0x(%x+)"), 16) % 2147483647 + os.time())
  for _, p in ipairs(args) do targets[#targets + 1] = "/streams/%24all/" .. p .. "/forward/100?embed=body" end
end

wrk.headers["Authorization"] = "Basic YWRtaW46Y2hhbmdlaXQ="
wrk.headers["Accept"] = "application/vnd.eventstore.atom+json"

function request()
  return wrk.format("GET", targets[math.random(1, #targets)])
end
