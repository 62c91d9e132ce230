-- robustness_child.lua: the child process of spec/robustness_spec.lua.
-- It calls every function of the `luann` table, every tensor method, the
-- tensor metamethods and the Lua library's functions and classes with bad
-- arguments, each call inside pcall. A Lua error is the expected outcome;
-- a crash kills this process, and the parent finds the guilty call in the
-- log, where each call is written (unbuffered) before it is made.
--
-- usage: luann robustness_child.lua count
--        luann robustness_child.lua run LOG FIRST LAST [SKIP]
-- `count` prints the number of targets; `run` calls targets FIRST..LAST
-- (1-based, inclusive) and writes "DONE" to LOG at the end. SKIP lists
-- calls not to make ("target:call,..."): those that crashed before.
--
-- The calls for one target, all with freshly made arguments so that a run
-- repeats exactly:
-- 1. a blind matrix: f(), f(v), f(t, v), f(v, t), f(t, a, b) for every bad
--    value v, a few tensors t and small values a, b;
-- 2. probes: f with plausible argument lists (shapes that fit mm, gather,
--    cat, cross-entropy, ...); each probe that succeeds is a valid call,
--    and up to MAX_BASES of them become bases;
-- 3. mutations: each base with each argument in turn (and one more after
--    the last) replaced by every bad value, reaching the checks deep
--    inside each op.
local luann = require "luann"

local MAX_BASES = 3

-- ---- values ---------------------------------------------------------------

-- {label, maker}: the maker returns a fresh value per call.
local function const(v) return function() return v end end

local function closed_tensor()
  local t = luann.zeros(2, 3)
  getmetatable(t).__close(t)
  return t
end

local deep_table -- built once: 100000 levels of {{{...}}}
local function deep()
  if not deep_table then
    deep_table = { 1 }
    for _ = 1, 100000 do deep_table = { deep_table } end
  end
  return deep_table
end

local cyclic = {}
cyclic[1] = cyclic

local function randn(...) return luann.randn(...) end

-- The arguments of the call being made, for the hostile table below.
local current_args = { n = 0 }

local function close_all()
  local function close(v)
    if luann.is_tensor(v) then pcall(getmetatable(v).__close, v) end
  end
  for i = 1, current_args.n do
    local v = current_args[i]
    close(v)
    if type(v) == "table" and not getmetatable(v) then
      for _, x in pairs(v) do close(x) end
    end
  end
end

-- A table whose metamethods close every tensor of the call while the
-- callee is reading it: a binding that reads options after taking its
-- tensors must not be left holding freed ones.
local function hostile()
  return setmetatable({}, {
    __index = function() close_all() end,
    __len = function() close_all() return 1 end,
  })
end

-- Tensors of every dtype and layout; most are (2,3) so that they fit where a
-- (2,3) float tensor is valid, and test the dtype and layout paths there.
local tensors = {
  { "f32(2,3)", function() return randn(2, 3) end },
  { "f64(2,3)", function() return randn(2, 3, { dtype = "float64" }) end },
  { "i64(2,3)", function() return luann.tensor({ { 1, 2, 3 }, { 3, 2, 1 } }) end },
  { "u8(2,3)", function() return luann.tensor({ { 0, 255, 7 }, { 1, 2, 3 } }, "uint8") end },
  { "bool(2,3)", function() return luann.tensor({ { true, false, true }, { false, false, true } }) end },
  { "f32()", function() return luann.tensor(2.5) end },
  { "i64()", function() return luann.tensor(1) end },
  { "bool()", function() return luann.tensor(true) end },
  { "f32(0)", function() return luann.zeros(0) end },
  { "f32(0,3)", function() return luann.zeros(0, 3) end },
  { "i64(0)", function() return luann.zeros(0, { dtype = "int64" }) end },
  { "f32(3,2).T", function() return randn(2, 3):t() end },
  { "f32(2,3)expand", function() return randn(1, 3):expand(2, 3) end },
  { "f32(2,3)step2", function() return randn(2, 6)[{ "all", { 1, -1, 2 } }] end },
  { "i64(2,3)T", function() return luann.tensor({ { 1, 2 }, { 2, 1 }, { 1, 1 } }):t() end },
  { "f32(3,4)", function() return randn(3, 4) end },
  { "f32(4)", function() return randn(4) end },
  { "f32(1,1,1,1,1,1,1,1)", function() return randn(1, 1, 1, 1, 1, 1, 1, 1) end },
  { "i64{1,2}", function() return luann.tensor({ 1, 2 }) end },
  { "i64{5,-7,0}", function() return luann.tensor({ 5, -7, 0 }) end },
  { "i64{2^62,-2^62}", function() return luann.tensor({ 1 << 62, -(1 << 62) }) end },
  { "i64(2,3)huge", function() return luann.tensor({ { 1 << 62, 0, -1 }, { 99, -99, 3 } }) end },
  { "f32{nan,inf,-inf}", function() return luann.tensor({ 0 / 0, math.huge, -math.huge }) end },
  { "f32(2,3)rg", function() return randn(2, 3, { requires_grad = true }) end },
  { "f32(2,3)nonleaf", function() return randn(2, 3, { requires_grad = true }) * 2 end },
  { "closed", closed_tensor },
}

local others = {
  { "nil", const(nil) },
  { "0", const(0) }, { "1", const(1) }, { "-1", const(-1) }, { "2", const(2) },
  { "3", const(3) }, { "9", const(9) }, { "1.5", const(1.5) }, { "-0.5", const(-0.5) },
  { "nan", const(0 / 0) }, { "inf", const(math.huge) }, { "-inf", const(-math.huge) },
  { "2^62", const(1 << 62) }, { "-2^62", const(-(1 << 62)) },
  { "maxinteger", const(math.maxinteger) }, { "mininteger", const(math.mininteger) },
  { "2.0^40", const(2.0 ^ 40) }, { "1<<40", const(1 << 40) }, { "1<<31", const(1 << 31) },
  { "1e300", const(1e300) },
  { "'abc'", const("abc") }, { "''", const("") }, { "'float64'", const("float64") },
  { "'int64'", const("int64") }, { "'mean'", const("mean") },
  { "{}", function() return {} end },
  { "{1,2}", function() return { 1, 2 } end },
  { "{2,-1}", function() return { 2, -1 } end },
  { "{-5}", function() return { -5 } end },
  { "{0}", function() return { 0 } end },
  { "{1.5}", function() return { 1.5 } end },
  { "{2^62,2^62}", function() return { 1 << 62, 1 << 62 } end },
  { "{maxint,maxint,6}", function() return { math.maxinteger, math.maxinteger, 6 } end },
  { "{1,2,3,4,5,6,7,8,9}", function() return { 1, 2, 3, 4, 5, 6, 7, 8, 9 } end },
  { "{'a'}", function() return { "a" } end },
  { "{{1,2},{3}}", function() return { { 1, 2 }, { 3 } } end },
  { "{f32(2,3)}", function() return { randn(2, 3) } end },
  { "{closed}", function() return { closed_tensor() } end },
  { "{dtype='bogus'}", function() return { dtype = "bogus" } end },
  { "{dtype=1,device=2,requires_grad='x'}",
    function() return { dtype = 1, device = 2, requires_grad = "x" } end },
  { "{device='opencl:99'}", function() return { device = "opencl:99" } end },
  { "{generator=1}", function() return { generator = 1 } end },
  { "{lr=-1,momentum='x'}", function() return { lr = -1, momentum = "x" } end },
  { "{lr=nan,eps=0,step=0}", function() return { lr = 0 / 0, eps = 0, step = 0 } end },
  { "deep table", deep },
  { "cyclic table", const(cyclic) },
  { "hostile table", hostile },
  { "true", const(true) }, { "false", const(false) },
  { "function", const(function() return 1 end) },
  { "erroring function", const(function() error("boom") end) },
  { "io.stdout", const(io.stdout) },
  { "coroutine", function() return coroutine.create(function() end) end },
  { "Generator", function() return luann.Generator(7) end },
}

-- Values used only by probes: what valid calls of the ops need.
local function sequential()
  return luann.nn.Sequential(luann.nn.Linear(3, 4), luann.nn.ReLU())
end
local probe_only = {
  { "f32(2,2)", function() return randn(2, 2) end },
  { "f32(2,2,2)", function() return randn(2, 2, 2) end },
  { "f32(3)", function() return randn(3) end },
  { "f32(4,3)", function() return randn(4, 3) end },
  { "f32()rg", function() return randn({}, { requires_grad = true }) end },
  { "f64(2,3)rg", function() return randn(2, 3, { dtype = "float64", requires_grad = true }) end },
  { "gather index(2,3)", function() return luann.tensor({ { 1, 2, 1 }, { 2, 1, 2 } }) end },
  { "target{1,3}", function() return luann.tensor({ 1, 3 }) end },
  { "probs(2,3)", function() return luann.softmax(randn(2, 3), 2) end },
  { "'valid.ckpt'", const("valid.ckpt") },
  { "'valid.idx'", const("valid.idx") },
  { "'out.ckpt'", const("out.ckpt") },
  { "'cpu'", const("cpu") },
  { "'sum'", const("sum") },
  { "{2,3}", function() return { 2, 3 } end },
  { "{{1,2},{3,4}}", function() return { { 1, 2 }, { 3, 4 } } end },
  { "{f32(2,3),f32(2,3)}", function() return { randn(2, 3), randn(2, 3) } end },
  { "{f64(2,3)rg}", function() return { randn(2, 3, { dtype = "float64", requires_grad = true }) } end },
  { "{forward=,backward=}", function()
    return { forward = function(_, x) return x * 2 end, backward = function(_, g) return g * 2 end }
  end },
  { "{lr=0.1}", function() return { lr = 0.1 } end },
  { "{batch_size=2}", function() return { batch_size = 2 } end },
  { "TensorDataset", function()
    return luann.data.TensorDataset(randn(5, 3), luann.tensor({ 1, 2, 3, 1, 2 }))
  end },
  { "params", function() return sequential():parameters() end },
  { "Sequential", sequential },
  { "fn sum", const(function(x) return x:sum() end) },
}

local by_label = {}
local values = {} -- every bad value, for the matrix and the mutations
for _, list in ipairs { others, tensors } do
  for _, v in ipairs(list) do
    values[#values + 1] = v
    by_label[v[1]] = v
  end
end
for _, v in ipairs(probe_only) do by_label[v[1]] = v end

local function pick(labels)
  local r = {}
  for _, l in ipairs(labels) do r[#r + 1] = assert(by_label[l], l) end
  return r
end

-- First arguments of the blind matrix; small 2nd/3rd arguments.
local firsts = pick { "f32(2,3)", "i64(2,3)", "bool(2,3)", "f32()", "f32(0,3)",
  "f32(3,2).T", "closed" }
local smalls = pick { "nil", "1", "-1", "0", "3", "9", "2^62", "-2^62", "1.5", "nan",
  "true", "'abc'", "{}", "f32(2,3)", "i64{1,2}" }

-- Plausible argument lists; the probes.
local probes = {
  {}, { "f32(2,3)" }, { "f32(2,3)", "f32(2,3)" }, { "f32(2,3)", "1" }, { "f32(2,3)", "2" },
  { "f32(2,3)", "2", "true" }, { "f32(2,3)", "1", "2" }, { "f32(2,3)", "2", "1", "2" },
  { "f32(2,3)", "2", "2", "true", "true" }, { "f32(2,3)", "0", "1" },
  { "f32(2,3)", "1", "gather index(2,3)" }, { "f32(2,3)", "1", "gather index(2,3)", "f32(2,3)" },
  { "f32(2,3)", "1", "i64{1,2}" }, { "f32(2,3)", "1", "i64{1,2}", "f32(2,3)" },
  { "f32(2,3)", "1", "i64{1,2}", "1.5" }, { "f32(2,3)", "bool(2,3)" },
  { "f32(2,3)", "bool(2,3)", "1.5" }, { "bool(2,3)", "f32(2,3)", "f32(2,3)" },
  { "f32(2,3)", "{2,3}" }, { "f32(2,3)", "3", "2" }, { "f32(2,3)", "2", "3" },
  { "f32(2,3)", "'float64'" }, { "f32(2,3)", "'cpu'" },
  { "2", "3" }, { "{2,3}" }, { "2", "3", "'float64'" }, { "3" }, { "0", "9" }, { "0", "9", "2" },
  { "0", "1", "3" }, { "{{1,2},{3,4}}" }, { "{f32(2,3),f32(2,3)}", "1" },
  { "f32(2,3)", "f32(3,4)" }, { "f32(2,2)", "f32(2,2)", "f32(2,2)" },
  { "f32(2,2,2)", "f32(2,2,2)" }, { "f32(3)", "f32(3)" }, { "f32(2,3)", "f32(4,3)", "f32(4)" },
  { "f32(2,3)", "target{1,3}" }, { "f32(2,3)", "probs(2,3)" },
  { "f32(2,3)", "target{1,3}", "nil", "nil", "0", "'mean'" },
  { "f32(2,3)", "target{1,3}", "nil", "nil", "'sum'" },
  { "i64{1,2}", "3" }, { "f32()rg" }, { "f32(2,3)nonleaf" }, { "f32(2,3)", "1", "true", "true" },
  { "f32(2,3)", "f32(2,3)", "nil", "{lr=0.1}" },
  { "f32(2,3)", "f32(2,3)", "f32(2,3)", "f32(2,3)", "nil", "{lr=0.1}" },
  { "f32(2,3)", "f32(2,3)", "f32(2,3)", "nil", "nil", "{lr=0.1}" },
  { "f32(2,3)", "f32(2,3)", "f32(2,3)", "{lr=0.1}" },
  { "function" }, { "fn sum", "{f64(2,3)rg}" }, { "{forward=,backward=}" },
  { "'valid.ckpt'" }, { "'valid.idx'" }, { "'out.ckpt'", "{f32(2,3)}" }, { "'cpu'" },
  { "f32(2,3)", "'abc'", "function" },
  { "params", "{lr=0.1}" }, { "TensorDataset" }, { "TensorDataset", "{batch_size=2}" },
  { "Sequential" }, { "3", "9" },
}
for _, p in ipairs(probes) do
  local specs = pick(p)
  specs.n = #p
  p.specs = specs
end

-- ---- calls ------------------------------------------------------------------

local function make_args(specs)
  local args = { n = specs.n }
  for i = 1, specs.n do args[i] = specs[i][2]() end
  current_args = args
  return args
end

local function describe_call(name, specs)
  local labels = {}
  for i = 1, specs.n do labels[i] = specs[i][1] end
  return name .. "(" .. table.concat(labels, ", ") .. ")"
end

local function pack(...) return table.pack(...) end

-- A call list is generated as it is walked, since the mutations depend on
-- the probes' outcomes: `emit(specs)` makes one call and returns whether it
-- succeeded.
local function walk(name, emit)
  emit(pack())
  local f = by_label["f32(2,3)"]
  for _, v in ipairs(values) do emit(pack(v)) end
  for _, t in ipairs(firsts) do
    for _, v in ipairs(values) do emit(pack(t, v)) end
  end
  for _, v in ipairs(values) do emit(pack(v, f)) end
  for _, a in ipairs(smalls) do
    for _, b in ipairs(smalls) do emit(pack(f, a, b)) end
  end
  local bases = {}
  for _, p in ipairs(probes) do
    if #bases < MAX_BASES and emit(p.specs) then bases[#bases + 1] = p.specs end
  end
  for _, base in ipairs(bases) do
    for pos = 1, base.n + 1 do
      for _, v in ipairs(values) do
        local specs = { n = math.max(base.n, pos) }
        for i = 1, base.n do specs[i] = base[i] end
        specs[pos] = v
        emit(specs)
      end
    end
  end
end

-- ---- targets ----------------------------------------------------------------

-- Functions that change process-wide state the calls after them depend on;
-- the spec checks them on their own.
local skip = {
  set_num_threads = true, set_default_device = true, set_grad_enabled = true,
  manual_seed = true,
}

local function targets()
  local list, seen = {}, {}
  local function add(name, fn)
    if not seen[fn] then
      seen[fn] = true
      list[#list + 1] = { name, fn }
    end
  end
  local function add_table(prefix, tbl, call)
    local names = {}
    for k, v in pairs(tbl) do
      local callable = type(v) == "function" or (call and type(v) == "table"
        and getmetatable(v) and getmetatable(v).__call)
      if callable and type(k) == "string" and not skip[k] then names[#names + 1] = k end
    end
    table.sort(names)
    for _, k in ipairs(names) do
      local v = tbl[k]
      add(prefix .. k, type(v) == "function" and v or function(...) return v(...) end)
    end
  end
  local mt = getmetatable(luann.zeros(1))
  add_table("luann.", luann)
  add_table("Tensor:", mt.methods)
  add_table("Tensor.", mt)
  add("Tensor.__concat", function(a, b) return a .. b end)
  add("Tensor.__call", function(a, ...) return a(...) end)
  add("Tensor.__lt", function(a, b) return a < b end)
  add("luann.autograd.Function():apply", function(...)
    local F = luann.autograd.Function({
      forward = function(_, x, y) return x * 2 + (y or 0) end,
      backward = function(_, g) return g * 2, g end })
    return F:apply(...)
  end)
  add_table("luann.opencl.", luann.opencl)
  add_table("Generator:", getmetatable(luann.Generator(1)).__index)
  add_table("luann.autograd.", luann.autograd)
  add_table("luann.nn.functional.", luann.nn.functional)
  add_table("luann.nn.init.", luann.nn.init)
  add_table("luann.nn.utils.", luann.nn.utils)
  add_table("luann.nn.", luann.nn, true)
  add_table("luann.optim.", luann.optim, true)
  add_table("luann.optim.lr_scheduler.", luann.optim.lr_scheduler, true)
  add_table("luann.data.", luann.data, true)
  add_table("luann.data.datasets.", luann.data.datasets, true)
  add_table("luann.utils.check.", luann.utils.check)
  -- Instances: a module's forward, an optimizer's step with bad gradients,
  -- a loader walked over a bad dataset.
  for _, cls in ipairs { "Linear", "ReLU", "Softmax", "LogSoftmax", "Dropout",
    "Flatten", "CrossEntropyLoss", "MSELoss", "NLLLoss", "BCELoss", "L1Loss" } do
    add("luann.nn." .. cls .. "(3,4)()", function(...)
      local ok, m = pcall(luann.nn[cls], 3, 4)
      if not ok then m = luann.nn[cls]() end
      return m(...)
    end)
  end
  for _, cls in ipairs { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad" } do
    add("luann.optim." .. cls .. ":step with p.grad = ...", function(g, ...)
      local p = randn(2, 3, { requires_grad = true })
      local opt = luann.optim[cls]({ p }, { lr = 0.1 })
      p.grad = g
      opt:step(...)
      opt:step(...)
      return opt:zero_grad(...)
    end)
  end
  add("for _ in luann.data.DataLoader(...)", function(...)
    for _ in luann.data.DataLoader(...) do end
  end)
  add("for _ in DataLoader(TensorDataset(...))", function(...)
    for _ in luann.data.DataLoader(luann.data.TensorDataset(...), { batch_size = 2 }) do end
  end)
  return list
end

-- ---- files for the probes -----------------------------------------------------

local function make_files()
  luann.save("valid.ckpt", { w = randn(2, 3), n = 3, s = "x", sub = { 1, true } })
  local f = assert(io.open("valid.idx", "wb"))
  f:write(string.pack(">I4I4I4", 0x0802, 2, 2), "\1\2\3\4")
  f:close()
end

-- ---- main ---------------------------------------------------------------------

local mode = arg[1]
local all = targets()
if mode == "count" then
  print(#all)
  return
end
assert(mode == "run", "usage: robustness_child.lua count|run LOG FIRST LAST [SKIP]")
local log = assert(io.open(arg[2], "w"))
log:setvbuf("no")
local first, last = tonumber(arg[3]), tonumber(arg[4])
local skipped = {}
for id in (arg[5] or ""):gmatch("[^,]+") do skipped[id] = true end
-- A call running past CALL_SECONDS of CPU time is a hang: a count hook
-- raises an error in it (again and again, should the code catch it), the
-- log gets a HANG line, and the target's other calls are skipped (each
-- would cost as much). Hangs inside C are left to the parent's timer.
local CALL_SECONDS = 2
local deadline = math.huge
debug.sethook(function()
  if os.clock() > deadline then error("robustness: call exceeded the time limit", 0) end
end, "", 10000)

make_files()
for ti = first, math.min(last, #all) do
  local name, fn = all[ti][1], all[ti][2]
  local ci, started, hung = 0, os.clock(), false
  walk(name, function(specs)
    ci = ci + 1
    if hung or skipped[ti .. ":" .. ci] then return false end
    local desc = describe_call(name, specs)
    log:write(ti .. " " .. ci .. " " .. desc .. "\n")
    luann.manual_seed(ci)
    local args = make_args(specs)
    deadline = os.clock() + CALL_SECONDS
    local ok = pcall(fn, table.unpack(args, 1, args.n))
    if os.clock() > deadline then
      log:write("HANG " .. desc .. ": still running after " .. CALL_SECONDS
        .. " s of CPU (the target's other calls are skipped)\n")
      hung = true
    end
    deadline = math.huge
    luann.set_grad_enabled(true)
    return ok
  end)
  collectgarbage()
  log:write(string.format("TIME %.2f s %d calls %s\n", os.clock() - started, ci, name))
end
log:write("DONE\n")
log:close()
