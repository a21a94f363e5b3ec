-- The original README's load test, against the native chat API:
--
--   TT_KEY=$(cat data/admin.key) wrk -t4 -c32 -d30s -s scripts/wrk_chat.lua \
--     http://localhost:8001/api/chat
--
-- Every request is a new conversation with its own message (each one a turn stored by
-- the gateway). TT_PERSONA picks the persona (default: seline).

local key = os.getenv("TT_KEY")
if key == nil or key == "" then
  io.stderr:write("wrk_chat.lua: set TT_KEY to an API key (for example: data/admin.key)\n")
  os.exit(2)
end
local persona = os.getenv("TT_PERSONA") or "seline"
local counter = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = key

request = function()
  counter = counter + 1
  local body = string.format(
    '{"persona": "%s", "message": "Message %d: any idea for a rainy Sunday?"}',
    persona, counter)
  return wrk.format(nil, nil, nil, body)
end

response = function(status, headers, body)
  if status ~= 200 then
    io.stderr:write("wrk_chat.lua: HTTP " .. status .. ": " .. body .. "\n")
  end
end
