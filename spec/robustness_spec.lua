-- robustness_spec.lua: no Lua script, however wrong, crashes luann.
-- A sweep calls every luann function, every tensor method, the
-- metamethods, the Lua library's functions and classes, and luann.load and
-- luann.read_idx on damaged files, with a matrix of bad arguments
-- (spec/robustness_child.lua) in child processes of `$LUANN_BUILD/luann`,
-- so a segfault, abort or hang is reported with the call that caused it
-- instead of killing busted. Scripts that crashed luann once run in
-- children too; sizes near the integer limits, process-wide settings and
-- a few error messages (they are API) are checked here.
-- The same child, values and targets (spec/robustness/) make the Lua-level
-- fuzzer, spec/fuzz.lua: random call sequences and random damaged files
-- from a seed, outside `make test` (make fuzz-ci, make fuzz).
--
-- With a sanitizer build (make B=/tmp/build-asan OPT="-O1 -fsanitize=
-- address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
-- LDLIBS="<the Makefile's LDLIBS> -fsanitize=address,undefined"):
--   LUANN_ROBUST_EXE=/tmp/build-asan/luann LUANN_ROBUST_MEMORY_KB=0
--   ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=2048
--   LSAN_OPTIONS=suppressions=<a file: leak:libpocl.so, leak:libLLVM-15.so>
--   lua5.4 /usr/bin/busted spec/robustness_spec.lua
local luann = require "luann"

local build = os.getenv("LUANN_BUILD") or "build"

local quote = require("helpers").quote

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
  local done = log:find("DONE\n$") ~= nil
  if ok and done then return nil end -- (ok without DONE: an os.exit midway)
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

-- Runs a Lua script in a child process; returns whether it exited normally
-- and its output. Scripts print "OK" at their end.
local function run_script(code, dir)
  local path = dir .. "/script.lua"
  local f = assert(io.open(path, "w"))
  f:write('local luann = require "luann"\n', code, '\nprint("OK")\n')
  f:close()
  local h = assert(io.popen(child_command(path, "", dir)))
  local out = h:read("a")
  local ok, how, code_ = h:close()
  return ok, (ok and "" or status_text(how, code_) .. ": ") .. out
end

local function scratch_dir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. quote(dir)))
  return dir
end

describe("robustness", function()
  describe("sweep of bad arguments", function()
    it("never crashes, aborts or hangs on any luann function or method", function()
      local dir = scratch_dir()
      local n, out = run_child_count(dir)
      assert(n, "the child failed to start: " .. tostring(out))
      local failures = sweep(n, 24, 2, dir)
      os.execute("rm -rf " .. quote(dir))
      assert(#failures == 0, #failures .. " crashing calls:\n  "
        .. table.concat(failures, "\n  "))
    end)
  end)

  -- Scripts that crashed luann once, each run in a child of its own.
  describe("scripts that crashed luann once", function()
    local dir
    setup(function() dir = scratch_dir() end)
    teardown(function() os.execute("rm -rf " .. quote(dir)) end)

    local function survives(code)
      local ok, out = run_script(code, dir)
      assert(ok and out:find("OK\n$"), out)
    end

    it("a plain lua5.4 exiting after a parallel op (the module unloads)", function()
      local code = "package.cpath = " .. ("%q"):format(abspath(build) .. "/?.so")
        .. "; package.path = 'lua/?.lua;lua/?/init.lua'"
        .. "; local luann = require 'luann'"
        .. "; assert(luann.ones(1000, 1000):add(1):sum():item() == 2e6)"
      local h = assert(io.popen("lua5.4 -e " .. quote(code) .. " 2>&1"))
      local out = h:read("a")
      local ok, how, status = h:close()
      assert(ok, status_text(how, status) .. ": " .. out)
    end)

    it("a custom function named like a registry entry", function()
      survives [[
        for _, name in ipairs { "luann.Tensor", "_LOADED", "_PRELOAD", "luann.Generator" } do
          local x = luann.randn(3, { requires_grad = true })
          local out = luann.no_grad(function() return x * 2 end)()
          luann._record_function(out, name, function(g) return g * 2 end, x)
          out:sum():backward()
          assert(luann.allclose(x.grad, luann.full({ 3 }, 2)))
          assert(require("luann.nn"))
        end
      ]]
    end)

    it("freeing and differentiating a history of 300000 ops", function()
      survives [[
        local x = luann.randn(3, { requires_grad = true })
        local y = x
        for _ = 1, 300000 do y = y * 1 end
        y:sum():backward()
        assert(luann.allclose(x.grad, luann.ones(3)))
        y = nil
        collectgarbage()
        collectgarbage()
      ]]
    end)

    it("a custom function recorded in a coroutine collected before backward", function()
      survives [[
        local F = luann.autograd.Function({
          forward = function(_, x) return x * 2 end,
          backward = function(_, g) return g * 2 end })
        local x = luann.randn(3, { requires_grad = true })
        local y, z
        coroutine.wrap(function() y = F:apply(x); z = F:apply(x) end)()
        collectgarbage()
        collectgarbage()
        y:sum():backward()
        assert(luann.allclose(x.grad, luann.full({ 3 }, 2)))
        z = nil -- its graph is freed without a backward
        collectgarbage()
      ]]
    end)

    it("a custom backward raising a value that is not a string", function()
      survives [[
        for _, bad in ipairs { false, {}, setmetatable({}, { __tostring = error }) } do
          local F = luann.autograd.Function({
            forward = function(_, x) return x * 2 end,
            backward = function() error(bad) end })
          local x = luann.randn(3, { requires_grad = true })
          local ok, err = pcall(function() F:apply(x):sum():backward() end)
          assert(not ok and err:find("error object is a %a+ value"), err)
        end
      ]]
    end)

    it("tensors closed by an options table's metamethods during the call", function()
      survives [[
        local t = luann.randn(2, 3)
        local close = getmetatable(t).__close
        local hostile = setmetatable({}, {
          __index = function() close(t) end,
          __len = function() close(t) return 1 end })
        for _, call in ipairs {
          function() return luann.var(t, hostile) end,
          function() return luann.rand_like(t, hostile) end,
          function() return t[hostile] end,
          function() return t:permute(hostile) end,
          function() return t:view(hostile) end,
          function() return luann.zeros_like(t, hostile) end,
        } do
          t = luann.randn(2, 3)
          pcall(call)
          collectgarbage()
          assert(not pcall(function() return t + 1 end))
        end
      ]]
    end)
  end)

  describe("sizes near the integer limits", function()
    local mi = math.maxinteger

    it("refuses shapes whose element count overflows", function()
      assert.has_error(function() luann.ones(2, 3):view(mi, mi, 6) end,
        "view: shape (9223372036854775807,9223372036854775807,6) is invalid for a "
          .. "tensor of shape (2,3) (6 elements)")
      assert.has_error(function() luann.ones(6):reshape({ mi, mi, 6 }) end,
        "reshape: shape (9223372036854775807,9223372036854775807,6) is invalid for a "
          .. "tensor of shape (6,) (6 elements)")
      assert.has_error(function() luann.ones(1):expand(1 << 31, 1 << 31, 4) end,
        "expand: shape (2147483648,2147483648,4) has 18446744073709551616 elements, "
          .. "too many (at most 2^40)")
      assert.has_error(function() luann.zeros(1 << 62, 1 << 62) end,
        "empty: 21267647932558653966460912964485513216 elements are too many")
    end)

    it("slices with huge steps and bounds", function()
      local t = luann.arange(6)
      assert.same({ 0 }, t[{ { 1, -1, mi } }]:tolist())
      assert.same({ 1, 4 }, t[{ { 2, -1, 3 } }]:tolist())
      assert.has_error(function() return t:narrow(1, 2, mi) end,
        "narrow: start 2 and length 9223372036854775807 are out of range for dim 1 of size 6")
      assert.has_error(function() return t[{ { -mi, mi } }] end,
        "index: range {-9223372036854775807, 9223372036854775807} out of bounds for "
          .. "dim 1 of size 6")
      assert.has_error(function() return t[math.mininteger] end,
        "index -9223372036854775808 is out of range for dim 1 of size 6")
      assert.equal(6, #t:chunk(mi))
      assert.equal(1, #t:split(mi))
      assert.has_error(function() t:split({ mi, mi, 8 }) end,
        "split: sizes sum to 9223372036854775807, but dim 1 has size 6")
    end)

    it("draws integers over the whole int64 range", function()
      local r = luann.randint(-mi, mi, { 1000 }):tolist()
      local negative, positive = 0, 0
      for _, v in ipairs(r) do
        assert(v >= -mi and v < mi)
        if v < 0 then negative = negative + 1 else positive = positive + 1 end
      end
      assert.is_true(negative > 400 and positive > 400)
      assert.has_error(function() luann.randint(0, 300, { 2 }, "uint8") end,
        "randint: the range [0, 300) does not fit in uint8")
      assert.has_error(function() luann.randint(-1, 1, { 2 }, "bool") end,
        "randint: the range [-1, 1) does not fit in bool")
    end)
  end)

  describe("process-wide settings given garbage", function()
    it("set_num_threads", function()
      local n = luann.get_num_threads()
      for _, v in ipairs { 0, -1, 1 << 40 } do
        assert.has_error(function() luann.set_num_threads(v) end,
          "bad argument #1 to 'set_num_threads' (expected a thread count from 1 to 4096)")
      end
      assert.has_error(function() luann.set_num_threads(0 / 0) end,
        "bad argument #1 to 'set_num_threads' (integer expected, got NaN)")
      assert.equal(n, luann.get_num_threads())
    end)

    it("set_default_device", function()
      assert.has_error(function() luann.set_default_device("cuda") end,
        "unknown device 'cuda' (expected cpu, opencl or opencl:N)")
      assert.has_error(function() luann.set_default_device("opencl:-1") end,
        "invalid device 'opencl:-1' (expected NAME or NAME:N)")
      assert.has_error(function() luann.set_default_device({}) end,
        "bad argument #1 to 'set_default_device' (string expected, got table)")
      assert.equal("cpu", luann.zeros(1).device)
    end)

    it("manual_seed and set_grad_enabled", function()
      assert.has_error(function() luann.manual_seed(1.5) end,
        "bad argument #1 to 'manual_seed' (integer expected, got 1.5)")
      assert.has_error(function() luann.set_grad_enabled() end,
        "bad argument #1 to 'set_grad_enabled' (value expected)")
      assert.is_true(luann.is_grad_enabled())
    end)
  end)

  -- Error messages are API: the problem, and the values that show it.
  describe("error messages", function()
    it("name both shapes of a mismatch", function()
      assert.has_error(function() luann.matmul(luann.zeros(3, 4), luann.zeros(5, 6)) end,
        "matmul: shapes (3,4) and (5,6) cannot be multiplied")
      assert.has_error(function() return luann.zeros(2, 3) + luann.zeros(4) end,
        "add: shapes (2,3) and (4,) cannot be broadcast")
      assert.has_error(function() luann.zeros(2, 3):view(4, 2) end,
        "view: shape (4,2) is invalid for a tensor of shape (2,3) (6 elements)")
    end)

    it("give the position of a bad argument", function()
      assert.has_error(function() luann.add("x", 1) end,
        "bad argument #1 to 'add' (tensor or number expected, got string)")
      assert.has_error(function() luann.add(luann.zeros(2), {}) end,
        "bad argument #2 to 'add' (tensor or number expected, got table)")
      assert.has_error(function() luann.zeros(2, -1) end,
        "bad argument #2 to 'zeros' (sizes must be non-negative)")
      assert.has_error(function() luann.cat({ luann.zeros(2), 1 }) end,
        "cat: expected a table of tensors, got number at position 2")
    end)

    it("give the index and the size when an index is out of range", function()
      assert.has_error(function() return luann.zeros(3)[5] end,
        "index 5 is out of range for dim 1 of size 3 (iterate with pairs(t))")
      assert.has_error(function() luann.gather(luann.zeros(2, 3), 2, luann.tensor({ { 7 } })) end,
        "gather: index 7 is out of range for dim 2 of size 3")
      assert.has_error(function() luann.zeros(2, 3):sum(3) end,
        "sum: dim 3 out of range for a tensor of 2 dims")
    end)

    it("say that a tensor is closed", function()
      local t = luann.zeros(2)
      getmetatable(t).__close(t)
      assert.has_error(function() return t:sum() end,
        "calling 'sum' on bad self (tensor is closed)")
      assert.has_error(function() return luann.add(1, t) end,
        "bad argument #2 to 'add' (tensor is closed)")
    end)
  end)
end)
