-- wrk script of bench/auth.sh: rotates through the requests listed in the file named by the
-- environment variable AUTH_TARGETS, one per line: "<path>\t<token>" (no token: the request carries
-- no Authorization header). Requests are formatted once in init(), so that per request wrk does
-- the same (trivial) work in both modes; only the bytes of the Authorization header differ.
local file = os.getenv("AUTH_TARGETS")
local reqs, n, i = {}, 0, 0

function init(args)
  if not file or file == "" then error("AUTH_TARGETS is not set") end
  for line in io.lines(file) do
    local path, token = line:match("^([^\t]+)\t?(.*)$")
    if path then
      local headers = {} -- wrk.format adds Host
      if token ~= "" then headers["Authorization"] = "Bearer " .. token end
      n = n + 1
      reqs[n] = wrk.format("GET", path, headers)
    end
  end
  if n == 0 then error("no requests in " .. file) end
end

function request()
  i = i % n + 1
  return reqs[i]
end
