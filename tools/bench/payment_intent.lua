-- POST /v1/payment_intents at the Stripe emulator, as the stripe library does for initiate
-- (the Authorization header comes from -H).   wrk ... -s payment_intent.lua URL -- AMOUNT
function init(args)
   body = "amount=" .. args[1] .. "&currency=eur&payment_method_types[0]=card" ..
          "&metadata[purchase_id]=1&metadata[student_id]=1&metadata[plan_id]=1"
end

function request()
   return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"},
                     body)
end
