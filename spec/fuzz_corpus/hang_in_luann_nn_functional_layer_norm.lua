-- luann fuzz: seed 751 (make fuzz-ci), hang in luann.nn.functional.layer_norm (a call ran past 5 s of CPU), 1 of 179 calls kept
-- F.layer_norm walked a normalized_shape whose length (__len) was 2^62; it now checks the length first
-- run: build/luann THIS_FILE (status 0 once fixed)
-- prelude.lua: the helpers every robustness call is written with. The sweep
-- and the fuzzer (spec/robustness_child.lua) run it before their calls, and
-- each repro script the fuzzer writes starts with its text, so a script runs
-- alone: `build/luann script.lua`. The names are globals on purpose: each
-- generated call is a chunk of its own, and sees them through its _ENV.
luann = luann or require "luann"
TM = getmetatable(luann.zeros(1)) -- the tensor metatable: TM.methods.view
R = {}                            -- R[i]: what the fuzzer's call i returned
ARGS = { n = 0 }                  -- the arguments of the call being made
CALL_SECONDS = 5                  -- CPU seconds a call may take (a cold
                                  -- PoCL kernel build counts too)

-- A tensor closed (freed) before the call.
function closed()
  local t = luann.zeros(2, 3)
  TM.__close(t)
  return t
end

local deep_table -- built once: 100000 levels of {{{...}}}
function deep()
  if not deep_table then
    deep_table = { 1 }
    for _ = 1, 100000 do deep_table = { deep_table } end
  end
  return deep_table
end

CYCLIC = {}
CYCLIC[1] = CYCLIC

-- Closes every tensor of the call being made, and those in its plain
-- tables.
local function close_all()
  local function close(v)
    if luann.is_tensor(v) then pcall(TM.__close, v) end
  end
  for i = 1, ARGS.n do
    local v = ARGS[i]
    close(v)
    if type(v) == "table" and not getmetatable(v) then
      for _, x in pairs(v) do close(x) end
    end
  end
end

-- A table whose metamethods close the call's tensors while the callee reads
-- it: a binding that reads options after taking its tensors must not be
-- left holding freed ones.
function hostile()
  return setmetatable({}, {
    __index = function() close_all() end,
    __len = function() close_all() return 1 end,
  })
end

-- A proxy table: #t is `len` (or what the function `len` returns, or
-- raises), t[k] is `value` (or value(k)) for any key but integers past
-- 100, so that ipairs ends (a table with no end is the caller's loop).
function proxy(len, value)
  return setmetatable({}, {
    __len = function() if type(len) == "function" then return len() end return len end,
    __index = function(_, k)
      if math.type(k) == "integer" and (k < 1 or k > 100) then return nil end
      if type(value) == "function" then return value(k) end
      return value
    end,
  })
end

-- t moved to the OpenCL device, or t itself when that fails.
function dev(t)
  local ok, moved = pcall(function() return t:to("opencl") end)
  if ok then return moved end
  return t
end

-- Writes `bytes` to the file `name` (in the current folder); returns name.
function file(name, bytes)
  local f = assert(io.open(name, "wb"))
  f:write(bytes)
  f:close()
  return name
end

-- call(f, ...): f(...) in pcall; returns its first result, or nil when it
-- raised. A call running past CALL_SECONDS of CPU in Lua code is a hang: a
-- count hook raises in it (again and again, should the code catch it) and
-- the process exits with status 3. A hang inside C is left to the parent's
-- timer.
local deadline = math.huge
debug.sethook(function()
  if os.clock() > deadline then error("robustness: call exceeded the time limit", 0) end
end, "", 10000)

function call(f, ...)
  ARGS = table.pack(...)
  deadline = os.clock() + CALL_SECONDS
  local ok, r = pcall(f, ...)
  local late = os.clock() > deadline
  deadline = math.huge
  ARGS = { n = 0 }
  luann.set_grad_enabled(true)
  if late then
    io.stderr:write("HANG: a call ran past ", CALL_SECONDS, " s of CPU\n")
    os.exit(3)
  end
  if ok then return r end
end

-- step(i, args): call i of a fuzz sequence, the function and its arguments
-- made by `args` (which may raise: then there is no call), its result kept
-- in R[i] for the calls after it, unless it is a tensor of over 2^20
-- elements (a sequence holding many would run out of memory).
function step(i, args)
  luann.manual_seed(i)
  local made = table.pack(pcall(args))
  if not made[1] then return end
  local r = call(table.unpack(made, 2, made.n))
  local ok, big = pcall(function() return luann.is_tensor(r) and r:numel() > 1 << 20 end)
  if ok and not big then R[i] = r end
end
step(179, function() return luann.nn.functional["layer_norm"], luann.zeros(0, 1 << 40, { dtype = "bool" }), proxy(1 << 62, 1) end) -- luann.nn.functional.layer_norm
