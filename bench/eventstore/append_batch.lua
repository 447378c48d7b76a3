-- wrk script: appends of 100 events per request (256-byte events) to 1,000 streams.
local pad = string.rep("x", 256)

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
  local parts = {}
  for i = 1, 100 do
    local data = string.format('{"i":"%03d","pad":"%s"}', i, pad:sub(1, 236))  -- 256 bytes
    parts[i] = '{"eventId":"' .. uuid() .. '","eventType":"BenchEvent","data":' .. data .. '}'
  end
  return wrk.format(nil, "/streams/batch-" .. math.random(0, 999), nil, "[" .. table.concat(parts, ",") .. "]")
end
