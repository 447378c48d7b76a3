-- wrk script for the ceiling server: the same single-event request bytes as
-- append_single.lua (the server ignores them).
local pad = string.rep("x", 229)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/vnd.eventstore.events+json"
wrk.headers["Authorization"] = "Basic YWRtaW46Y2hhbmdlaXQ="
wrk.body = '[{"eventId":"fbf4a1a1-b4a3-4dfe-a01f-ec52c34e16e4","eventType":"BenchEvent","data":{"n":"0000000001","pad":"' .. pad .. '"}}]'
function request()
  return wrk.format(nil, "/streams/bench-" .. math.random(0, 999))
end
