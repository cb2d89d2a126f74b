-- POST /api/finances/api/purchase/initiate/ as a new guest each time (a distinct email),
-- so that no pending purchase is reused.   wrk ... -s initiate.lua URL -- PLAN_ID RUN_TAG
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

function init(args)
   plan_id, tag = args[1], args[2]
   n = 0
end

function request()
   n = n + 1
   local email = string.format("guest-%s-%d-%d@example.com", tag, id, n)
   local body = string.format(
      '{"plan_id": %s, "student_info": {"name": "Bench Guest", "email": "%s"}}', plan_id, email)
   return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
