-- robustness_spec.lua: no Lua script, however wrong, crashes luann.
-- A sweep calls every luann function, every tensor method, the
-- metamethods and the Lua library's classes with a matrix of bad
-- arguments (spec/robustness_child.lua) in child processes of
-- `$LUANN_BUILD/luann`, so a segfault or abort is reported with the call
-- that caused it instead of killing busted. Then a few error messages are
-- checked exactly, since they are API too.
local luann = require "luann"

local build = os.getenv("LUANN_BUILD") or "build"

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  local h = assert(io.popen("pwd"))
  local cwd = h:read("l")
  h:close()
  return cwd .. "/" .. p
end

local exe = abspath(build .. "/luann")
local here = abspath("spec")
local has_timeout = os.execute("command -v timeout >/dev/null 2>&1")

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- The child runs in a scratch folder (luann.save with a garbage name writes
-- there), with memory capped so that a huge allocation fails fast instead
-- of paging, and a time limit so that a hang is reported, not waited for.
local CHILD_SECONDS = 40
local MEMORY_KB = 8 * 1024 * 1024

local function child_command(script, args, dir)
  return "cd " .. quote(dir) .. " && ulimit -v " .. MEMORY_KB .. " && "
    .. (has_timeout and ("timeout -s KILL " .. CHILD_SECONDS .. " ") or "")
    .. "env OMP_NUM_THREADS=1 " .. quote(exe) .. " " .. quote(script)
    .. " " .. args .. " 2>&1"
end

-- The last call a child's log names: target, call, description.
local function last_call(log)
  local t, c, desc
  for line in log:gmatch("[^\n]+") do
    local a, b, d = line:match("^(%d+) (%d+) (.*)$")
    if a then t, c, desc = tonumber(a), tonumber(b), d end
  end
  return t, c, desc
end

local function status_text(ok, how, code)
  if how == "signal" then return "killed by signal " .. code end
  if code == 137 or code == 124 then return "timed out (" .. CHILD_SECONDS .. " s)" end
  if code and code >= 128 then return "killed by signal " .. (code - 128) end
  return "exited with status " .. tostring(code)
end

-- Starts a child over targets [first, last], skipping the calls that
-- crashed before.
local function start(job)
  job.log = os.tmpname()
  job.handle = assert(io.popen(child_command(here .. "/robustness_child.lua",
    "run " .. quote(job.log) .. " " .. job.first .. " " .. job.last .. " "
      .. quote(table.concat(job.skip, ",")), job.dir)))
end

-- Waits for a child; records a failure and returns the guilty call's
-- target and number, or nil when it finished.
local function finish(job, failures)
  local out = job.handle:read("a")
  local ok, how, code = job.handle:close()
  local log = slurp(job.log)
  os.remove(job.log)
  for hang in log:gmatch("HANG ([^\n]*)") do failures[#failures + 1] = hang end
  if ok and log:find("DONE\n$") then return nil end
  local t, c, desc = last_call(log)
  local tail = out:sub(-300)
  failures[#failures + 1] = (desc or "(before the first call)") .. ": "
    .. status_text(ok, how, code) .. (tail ~= "" and ("\n    output: " .. tail) or "")
  return t, c
end

-- Runs targets 1..n in `chunks` pieces, `parallel` children at a time,
-- restarting after a crash from the guilty call's target, without it.
local function sweep(n, chunks, parallel, dir)
  local queue, failures = {}, {}
  local size = math.ceil(n / chunks)
  for first = 1, n, size do
    queue[#queue + 1] = { first = first, last = math.min(n, first + size - 1), skip = {},
      dir = dir }
  end
  local running = {}
  while #queue > 0 or #running > 0 do
    while #running < parallel and #queue > 0 do
      local job = table.remove(queue, 1)
      start(job)
      running[#running + 1] = job
    end
    local job = table.remove(running, 1)
    local t, c = finish(job, failures)
    if t and #job.skip < 30 then
      local skip = { table.unpack(job.skip) }
      skip[#skip + 1] = t .. ":" .. c
      queue[#queue + 1] = { first = t, last = job.last, skip = skip, dir = dir }
    end
  end
  return failures
end

local function run_child_count(dir)
  local h = assert(io.popen(child_command(here .. "/robustness_child.lua", "count", dir)))
  local out = h:read("a")
  h:close()
  return tonumber(out:match("(%d+)%s*$")), out
end

describe("robustness", function()
  describe("sweep of bad arguments", function()
    it("never crashes, aborts or hangs on any luann function or method", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p " .. quote(dir)))
      local n, out = run_child_count(dir)
      assert(n, "the child failed to start: " .. tostring(out))
      local failures = sweep(n, 8, 2, dir)
      os.execute("rm -rf " .. quote(dir))
      assert(#failures == 0, #failures .. " crashing calls:\n  "
        .. table.concat(failures, "\n  "))
    end)
  end)
end)
