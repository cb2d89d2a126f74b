-- Signed Stripe events from a file, one per line: "<Stripe-Signature>\t<JSON body>".
-- Each thread takes every Nth line, so no two connections send the same event.
-- wrk -tTHREADS ... -s events.lua URL -- FILE once|cycle THREADS
--   once:  each event is sent once; a thread that runs out stops (reported in done()).
--   cycle: the thread's events are sent again and again (duplicate deliveries).
local thread_objects = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(thread_objects, thread)
end

function init(args)
   local file, mode, threads = args[1], args[2], tonumber(args[3])
   cycle = mode == "cycle"
   events = {}
   local n = 0
   for line in io.lines(file) do
      if n % threads == id then
         local tab = line:find("\t", 1, true)
         table.insert(events, {line:sub(1, tab - 1), line:sub(tab + 1)})
      end
      n = n + 1
   end
   nth = 0
   exhausted = 0
end

function request()
   nth = nth + 1
   if nth > #events then
      if cycle then
         nth = 1
      else
         exhausted = 1
         wrk.thread:set("exhausted", 1)
         wrk.thread:stop()
         nth = #events
      end
   end
   local event = events[nth]
   return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                   ["Stripe-Signature"] = event[1]}, event[2])
end

function done(summary, latency, requests)
   for _, thread in ipairs(thread_objects) do
      if thread:get("exhausted") == 1 then
         io.write("events exhausted\n")
         return
      end
   end
end
