-- POST one fixed body on every request and print wrk's results as one JSON line.
--
--   wrk -s bench/wrk_post.lua URL -- BODY_FILE CONTENT_TYPE [HEADER: VALUE ...]
--
-- The body is read once per thread in init(), before wrk builds its request, so every request is
-- the same pre-built bytes (no per-request Lua). done() prints a line starting with WRK_RESULT
-- that bench/load.py parses; latencies are in microseconds.

function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = args[2]
   for i = 3, #args do
      local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
      wrk.headers[name] = value
   end
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency.mean, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9)))
end
