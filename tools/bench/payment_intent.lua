-- POST /v1/payment_intents at the Stripe emulator, as the stripe library does for initiate.
-- wrk ... -H "Authorization: Bearer sk_test_…" -s payment_intent.lua URL -- AMOUNT
function init(args)
   body = "amount=" .. args[1] .. "&currency=eur&payment_method_types[0]=card" ..
          "&metadata[purchase_id]=1&metadata[student_id]=1&metadata[plan_id]=1"
   -- wrk.format replaces the -H headers when given a table: keep them (Authorization).
   headers = {}
   for name, value in pairs(wrk.headers) do headers[name] = value end
   headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   return wrk.format("POST", nil, headers, body)
end
