-- A mix of the site's pages and APIs; each thread answers LIMIT requests, then
-- stops and creates the file MARKER<thread> (the harness then interrupts wrk for its report).
-- wrk ... -s mixed.lua URL -- LIMIT MARKER PATH [PATH ...]   (the Cookie header comes from -H)
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

function init(args)
   limit = tonumber(args[1])
   marker = args[2]
   paths = {}
   for i = 3, #args do table.insert(paths, args[i]) end
   sent = 0
   answered = 0
end

function request()
   sent = sent + 1
   return wrk.format("GET", paths[(sent + id) % #paths + 1])
end

function response(status, headers, body)
   answered = answered + 1
   if answered == limit then
      io.open(marker .. id, "w"):close()
      wrk.thread:stop()
   end
end
