-- wrk script: single-event appends (256-byte events) to 1,000 streams, no expected
-- version (any), one fresh event id per request.
local counter = 0
local pad = string.rep("x", 229)

function init(args)
  math.randomseed(tonumber(tostring({}):match("0x(%x+)"), 16) % 2147483647 + os.time())
end

local function uuid()
  return (string.gsub("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/vnd.eventstore.events+json"
wrk.headers["Authorization"] = "Basic YWRtaW46Y2hhbmdlaXQ="

function request()
  counter = counter + 1
  local stream = "bench-" .. math.random(0, 999)
  -- data is exactly 256 bytes: {"n":"NNNNNNNNNN","pad":"xx..."}
  local data = string.format('{"n":"%010d","pad":"%s"}', counter % 1000000000, pad)
  local body = '[{"eventId":"' .. uuid() .. '","eventType":"BenchEvent","data":' .. data .. '}]'
  return wrk.format(nil, "/streams/" .. stream, nil, body)
end
