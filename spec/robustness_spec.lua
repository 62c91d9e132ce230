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

-- LUANN_ROBUST_EXE runs the children on another build (a sanitizer build,
-- whose module busted itself cannot load).
local exe = abspath(os.getenv("LUANN_ROBUST_EXE") or (build .. "/luann"))
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
-- of paging, and a time limit so that a hang inside C is reported, not
-- waited for (the child itself stops calls that loop in Lua).
-- LUANN_ROBUST_MEMORY_KB=0 lifts the cap, for sanitizer builds (which map
-- terabytes of shadow memory; give them ASAN_OPTIONS=
-- allocator_may_return_null=1:max_allocation_size_mb=2048 instead).
local CHILD_SECONDS = 40
local MEMORY_KB = tonumber(os.getenv("LUANN_ROBUST_MEMORY_KB")) or 8 * 1024 * 1024

local function child_command(script, args, dir)
  return "cd " .. quote(dir) .. " && "
    .. (MEMORY_KB > 0 and ("ulimit -v " .. MEMORY_KB .. " && ") or "")
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

local function status_text(how, code)
  if how == "signal" then return "killed by signal " .. code end
  if code == 137 then return "killed (SIGKILL: out of memory, or past " .. CHILD_SECONDS .. " s)" end
  if code and code > 128 then return "killed by signal " .. (code - 128) end
  return "exited with status " .. tostring(code)
end

-- What a child printed that tells why it died: a sanitizer's first report
-- line and the first frame in luann's own code, else the last lines.
local function why(out)
  local first = out:match("[^\n]*runtime error[^\n]*") or out:match("[^\n]*ERROR: %a+Sanitizer[^\n]*")
  if first then
    for line in out:gmatch("[^\n]+") do
      if line:find("^%s*#%d+ .* in .*[ /]core/") or line:find("^%s*#%d+ .* in .*[ /]bindings/") then
        return first .. "\n      at " .. line:match(" in (.*)$")
      end
    end
    return first
  end
  return out:sub(-300)
end

-- Starts a child over targets [first, last], skipping the calls that
-- crashed before.
local function start(job)
  job.log = os.tmpname()
  job.handle = assert(io.popen(child_command(here .. "/robustness_child.lua",
    "run " .. quote(job.log) .. " " .. job.first .. " " .. job.last .. " "
      .. quote(table.concat(job.skip, ",")), job.dir)))
end

-- Waits for a child; records failures (calls that hung, the call that
-- killed it) and returns the guilty call's target and number when the
-- child died before its end.
local function finish(job, failures)
  local out = job.handle:read("a")
  local ok, how, code = job.handle:close()
  local log = slurp(job.log)
  os.remove(job.log)
  for hang in log:gmatch("HANG ([^\n]*)") do failures[#failures + 1] = hang end
  if ok then return nil end
  local done = log:find("DONE\n$") ~= nil
  local t, c, desc = last_call(log)
  local text = why(out)
  failures[#failures + 1] = (done and "after the calls of targets " .. job.first
      .. ".." .. job.last or desc or "before the first call") .. ": "
    .. status_text(how, code) .. (text ~= "" and ("\n    " .. text) or "")
  if done then return nil end
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
    if os.getenv("LUANN_ROBUST_DEBUG") then io.stderr:write(string.format("%d..%d done at %.1f\n", job.first, job.last, os.clock())) end
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
      local failures = sweep(n, 24, 2, dir)
      os.execute("rm -rf " .. quote(dir))
      assert(#failures == 0, #failures .. " crashing calls:\n  "
        .. table.concat(failures, "\n  "))
    end)
  end)
end)
