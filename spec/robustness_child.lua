-- robustness_child.lua: the child process of spec/robustness_spec.lua.
-- It calls every function of the `luann` table, every tensor method, the
-- tensor metamethods and the Lua library's classes with a matrix of bad
-- arguments, each call inside pcall. A Lua error is the expected outcome;
-- a crash kills this process, and the parent finds the guilty call in the
-- log, where each call is written (unbuffered) before it is made.
--
-- usage: luann robustness_child.lua count
--        luann robustness_child.lua run LOG FIRST_TARGET LAST_TARGET [FIRST_CALL]
-- `count` prints the number of targets; `run` calls targets FIRST..LAST
-- (1-based, inclusive), starting at call FIRST_CALL of the first one, and
-- prints "DONE" at the end. Every call gets freshly made arguments, so a
-- call made again after a restart behaves the same.
local luann = require "luann"

-- ---- argument values ----------------------------------------------------

-- Each entry: {label, maker}; the maker returns a fresh value per call.
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

local function tensor_values()
  return {
    { "f32(2,3)", function() return luann.randn(2, 3) end },
    { "f64(2,3)", function() return luann.randn(2, 3, { dtype = "float64" }) end },
    { "i64(2,3)", function() return luann.tensor({ { 1, 2, 3 }, { 3, 2, 1 } }) end },
    { "u8(2,3)", function() return luann.tensor({ { 0, 255, 7 }, { 1, 2, 3 } }, "uint8") end },
    { "bool(2,3)", function() return luann.tensor({ { true, false, true }, { false, false, true } }) end },
    { "f32()", function() return luann.tensor(2.5) end },
    { "i64()", function() return luann.tensor(1) end },
    { "bool()", function() return luann.tensor(true) end },
    { "f32(0)", function() return luann.zeros(0) end },
    { "f32(0,3)", function() return luann.zeros(0, 3) end },
    { "i64(0)", function() return luann.zeros(0, { dtype = "int64" }) end },
    { "f32(3,2).T", function() return luann.randn(2, 3):t() end },
    { "f32(2,3)expand", function() return luann.randn(1, 3):expand(2, 3) end },
    { "f32(2,3)step2", function() return luann.randn(2, 6)[{ "all", { 1, -1, 2 } }] end },
    { "f32(3,4)", function() return luann.randn(3, 4) end },
    { "f32(4)", function() return luann.randn(4) end },
    { "f32(1,1,1,1,1,1,1,1)", function() return luann.randn(1, 1, 1, 1, 1, 1, 1, 1) end },
    { "i64{1,2}", function() return luann.tensor({ 1, 2 }) end },
    { "i64{5,-7,0}", function() return luann.tensor({ 5, -7, 0 }) end },
    { "i64{2^62,-2^62}", function() return luann.tensor({ 1 << 62, -(1 << 62) }) end },
    { "f32{nan,inf,-inf}", function() return luann.tensor({ 0 / 0, math.huge, -math.huge }) end },
    { "f32(2,3)rg", function() return luann.randn(2, 3, { requires_grad = true }) end },
    { "f32(2,3)nonleaf", function() return luann.randn(2, 3, { requires_grad = true }) * 2 end },
    { "closed", closed_tensor },
  }
end

local function other_values()
  return {
    { "nil", const(nil) },
    { "0", const(0) }, { "1", const(1) }, { "-1", const(-1) }, { "2", const(2) },
    { "3", const(3) }, { "9", const(9) }, { "1.5", const(1.5) }, { "-0.5", const(-0.5) },
    { "nan", const(0 / 0) }, { "inf", const(math.huge) }, { "-inf", const(-math.huge) },
    { "2^62", const(1 << 62) }, { "-2^62", const(-(1 << 62)) },
    { "maxinteger", const(math.maxinteger) }, { "mininteger", const(math.mininteger) },
    { "2.0^40", const(2.0 ^ 40) }, { "1<<40", const(1 << 40) }, { "1<<31", const(1 << 31) },
    { "'abc'", const("abc") }, { "''", const("") }, { "'float64'", const("float64") },
    { "'int64'", const("int64") }, { "'mean'", const("mean") },
    { "{}", function() return {} end },
    { "{1,2}", function() return { 1, 2 } end },
    { "{2,-1}", function() return { 2, -1 } end },
    { "{-5}", function() return { -5 } end },
    { "{0}", function() return { 0 } end },
    { "{1.5}", function() return { 1.5 } end },
    { "{2^62,2^62}", function() return { 1 << 62, 1 << 62 } end },
    { "{1,2,3,4,5,6,7,8,9}", function() return { 1, 2, 3, 4, 5, 6, 7, 8, 9 } end },
    { "{'a'}", function() return { "a" } end },
    { "{{1,2},{3}}", function() return { { 1, 2 }, { 3 } } end },
    { "{f32(2,3)}", function() return { luann.randn(2, 3) } end },
    { "{closed}", function() return { closed_tensor() } end },
    { "{dtype='bogus'}", function() return { dtype = "bogus" } end },
    { "{dtype=1,device=2,requires_grad='x'}",
      function() return { dtype = 1, device = 2, requires_grad = "x" } end },
    { "{device='opencl:99'}", function() return { device = "opencl:99" } end },
    { "{generator=1}", function() return { generator = 1 } end },
    { "{lr=-1,momentum='x'}", function() return { lr = -1, momentum = "x" } end },
    { "deep table", deep },
    { "cyclic table", const(cyclic) },
    { "true", const(true) }, { "false", const(false) },
    { "function", const(function() return 1 end) },
    { "erroring function", const(function() error("boom") end) },
    { "io.stdout", const(io.stdout) },
    { "coroutine", function() return coroutine.create(function() end) end },
    { "Generator", function() return luann.Generator(7) end },
  }
end

local values = {}
for _, v in ipairs(other_values()) do values[#values + 1] = v end
for _, v in ipairs(tensor_values()) do values[#values + 1] = v end
local by_label = {}
for _, v in ipairs(values) do by_label[v[1]] = v end

local function pick(labels)
  local r = {}
  for _, l in ipairs(labels) do r[#r + 1] = assert(by_label[l], l) end
  return r
end

-- First arguments of methods and tensor functions.
local firsts = pick { "f32(2,3)", "f64(2,3)", "i64(2,3)", "u8(2,3)", "bool(2,3)",
  "f32()", "f32(0,3)", "f32(3,2).T", "f32(2,3)expand", "f32(1,1,1,1,1,1,1,1)",
  "f32(2,3)nonleaf", "closed" }
-- Second tensors for binary ops.
local seconds = pick { "f32(2,3)", "f32(3,4)", "i64{1,2}", "i64{5,-7,0}", "bool(2,3)" }
-- Small values for the 2nd/3rd arguments: dims, counts, flags.
local smalls = pick { "nil", "1", "-1", "0", "3", "9", "2^62", "-2^62", "1.5", "nan",
  "true", "'abc'", "{}", "f32(2,3)", "i64{1,2}" }

-- ---- calls ----------------------------------------------------------------

-- A call: {desc, fn, arg specs...}; arguments made just before the call.
local function calls_for(name, fn)
  local list = {}
  local function add(...)
    local specs = table.pack(...)
    local labels = {}
    for i = 1, specs.n do labels[i] = specs[i][1] end
    list[#list + 1] = { name .. "(" .. table.concat(labels, ", ") .. ")", fn,
      specs }
  end
  add()
  for _, v in ipairs(values) do add(v) end
  for _, t in ipairs(firsts) do
    for _, v in ipairs(values) do add(t, v) end
  end
  for _, v in ipairs(values) do add(v, by_label["f32(2,3)"]) end
  local f = by_label["f32(2,3)"]
  for _, t in ipairs(seconds) do
    for _, v in ipairs(values) do add(f, t, v) end
  end
  for _, a in ipairs(smalls) do
    for _, b in ipairs(smalls) do add(f, a, b) end
  end
  local idx = by_label["i64{1,2}"]
  for _, a in ipairs(smalls) do
    for _, b in ipairs(smalls) do add(f, a, idx, b) end
  end
  return list
end

local function make_args(specs)
  local args = { n = specs.n }
  for i = 1, specs.n do args[i] = specs[i][2]() end
  return args
end

-- ---- targets ----------------------------------------------------------------

-- Functions that would leave the process in a state that breaks the calls
-- after them, or that only print. They get targeted checks in the spec.
local skip = {
  set_num_threads = true,    -- threads are process-wide
  set_default_device = true, -- so is the default device
  set_grad_enabled = true,   -- so is grad mode
  manual_seed = true,
}

-- {name, fn} for every distinct function: luann.*, methods, luann.opencl.*,
-- generator methods, luann.autograd.*, nn.functional.*, nn.init.*.
local function targets()
  local list, seen = {}, {}
  local function add_table(prefix, tbl)
    local names = {}
    for k, v in pairs(tbl) do
      if type(v) == "function" and type(k) == "string" then names[#names + 1] = k end
    end
    table.sort(names)
    for _, k in ipairs(names) do
      local fn = tbl[k]
      if not seen[fn] and not skip[k] then
        seen[fn] = true
        list[#list + 1] = { prefix .. k, fn }
      end
    end
  end
  add_table("luann.", luann)
  add_table("Tensor:", getmetatable(luann.zeros(1)).methods)
  add_table("luann.opencl.", luann.opencl)
  add_table("Generator:", getmetatable(luann.Generator(1)).__index)
  add_table("luann.autograd.", luann.autograd)
  add_table("luann.nn.functional.", luann.nn.functional)
  add_table("luann.nn.init.", luann.nn.init)
  return list
end

-- ---- main ---------------------------------------------------------------------

local mode = arg[1]
local all = targets()
if mode == "count" then
  print(#all)
  return
end
assert(mode == "run", "usage: robustness_child.lua count|run LOG FIRST LAST [CALL]")
local log = assert(io.open(arg[2], "w"))
log:setvbuf("no")
local first, last = tonumber(arg[3]), tonumber(arg[4])
local first_call = tonumber(arg[5]) or 1
luann.manual_seed(1)
for ti = first, math.min(last, #all) do
  local name, fn = all[ti][1], all[ti][2]
  local list = calls_for(name, fn)
  for ci = ti == first and first_call or 1, #list do
    local c = list[ci]
    log:write(ti .. " " .. ci .. " " .. c[1] .. "\n")
    local args = make_args(c[3])
    pcall(c[2], table.unpack(args, 1, args.n))
    luann.set_grad_enabled(true)
  end
  collectgarbage()
end
log:write("DONE\n")
log:close()
print("DONE")
