-- robustness_child.lua: the child process of spec/robustness_spec.lua (the
-- sweep) and of spec/fuzz.lua (the fuzzer). It calls every function of the
-- `luann` table, every tensor method, the tensor metamethods and the Lua
-- library's functions and classes (spec/robustness/targets.lua) with bad
-- arguments (spec/robustness/values.lua), each call inside pcall, and
-- luann.load and luann.read_idx with damaged files
-- (spec/robustness/files.lua). A Lua error is the expected outcome; a crash
-- kills this process, and the parent finds the guilty call in the log,
-- where each call is written (unbuffered) before it is made.
--
-- usage: luann robustness_child.lua count
--        luann robustness_child.lua run LOG FIRST LAST [SKIP]
--        luann robustness_child.lua fuzz LOG SEED CALLS
--
-- `count` prints the number of targets; `run` sweeps targets FIRST..LAST
-- (1-based, inclusive) and writes "DONE" to LOG at the end. SKIP lists
-- calls not to make ("target:call,..."): those that crashed before.
-- The sweep's calls for one target, all with freshly made arguments so that
-- a run repeats exactly:
-- 1. probes: f with plausible argument lists (shapes that fit mm, gather,
--    cat, cross-entropy, ...); each probe that succeeds is a valid call,
--    and up to MAX_BASES of them become bases;
-- 2. a blind matrix: f(), f(v), f(v, t), f(t, a, b) for every bad value v,
--    small values a, b, and f(t, v) for a few tensors t when no probe
--    succeeded;
-- 3. mutations: each base with each argument in turn (and one more after
--    the last) replaced by every bad value, reaching the checks deep
--    inside each op; with OpenCL, each base on the device too.
-- The log also gets a HANG line for a call that loops, and a TIME line per
-- target (seconds and calls, for keeping the sweep fast).
--
-- `fuzz` makes CALLS random calls drawn from SEED: random targets with
-- random argument lists (probes with mutations, wrong argument counts, the
-- results of earlier calls: views of views, in-place ops on results,
-- backward through them), random damaged files. Each call is one line of
-- Lua (prelude.lua's `step`), written to LOG before it runs; the log after
-- the prelude is a script that repeats the run (a call's line follows a
-- comment "--@ name, function, arguments..." with each part's source
-- quoted, which the parent reads to shrink the call). LOG ends with
-- "DONE <calls> <files> <results kept>".
local luann = require "luann"

local MAX_BASES = 3
local here = arg[0]:match("^(.*)/[^/]*$") or "."

-- ---- values -----------------------------------------------------------------

-- The helpers of prelude.lua live in E, where every value's and target's
-- source is compiled.
local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local E = setmetatable({}, { __index = _G })
assert(load(read(here .. "/robustness/prelude.lua"), "=prelude", "t", E))()

local function compile(src, name)
  return assert(load("return " .. src, "=" .. name, "t", E))()
end

local V = dofile(here .. "/robustness/values.lua")
local F = dofile(here .. "/robustness/files.lua")

-- {label, maker, source}: the maker returns a fresh value per call.
local function makers(list)
  local r = {}
  for i, v in ipairs(list) do
    r[i] = { v[1], compile("function() return " .. v[2] .. " end", v[1]), v[2] }
  end
  return r
end

local tensors, others = makers(V.tensors), makers(V.others)
local probe_only, extra = makers(V.probe_only), makers(V.extra)

-- The same on an OpenCL device, when there is one: mixed devices, and
-- device kernels given bad indices.
local has_opencl = not os.getenv("LUANN_NO_OPENCL") and luann.opencl.is_available()

local device_tensors = {}
if has_opencl then
  local src = {}
  for _, v in ipairs(V.tensors) do src[v[1]] = v[2] end
  local list = {}
  for i, label in ipairs(V.device) do list[i] = { "ocl " .. label, "dev(" .. src[label] .. ")" } end
  device_tensors = makers(list)
end

local by_label = {}
local values = {} -- every bad value, for the matrix and the mutations
for _, list in ipairs { others, tensors, device_tensors } do
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

-- ---- the sweep ----------------------------------------------------------------

local function make_args(specs)
  local args = { n = specs.n }
  for i = 1, specs.n do args[i] = specs[i][2]() end
  E.ARGS = args
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
  local bases = {}
  for _, p in ipairs(probes) do
    if #bases < MAX_BASES and emit(p.specs) then bases[#bases + 1] = p.specs end
  end
  emit(pack())
  local f = by_label["f32(2,3)"]
  for _, v in ipairs(values) do emit(pack(v)) end
  if #bases == 0 then -- else the mutations below cover f(t, v)
    for _, t in ipairs(firsts) do
      for _, v in ipairs(values) do emit(pack(t, v)) end
    end
  end
  for _, v in ipairs(values) do emit(pack(v, f)) end
  for _, a in ipairs(smalls) do
    for _, b in ipairs(smalls) do emit(pack(f, a, b)) end
  end
  local function mutate(base, with)
    for pos = 1, base.n + 1 do
      for _, v in ipairs(with) do
        local specs = { n = math.max(base.n, pos) }
        for i = 1, base.n do specs[i] = base[i] end
        specs[pos] = v
        emit(specs)
      end
    end
  end
  for _, base in ipairs(bases) do mutate(base, values) end
  if not has_opencl then return end
  -- each base again with its tensors on the device, mutated by small
  -- values and device tensors
  local device_values = {}
  for _, list in ipairs { smalls, device_tensors } do
    for _, v in ipairs(list) do device_values[#device_values + 1] = v end
  end
  for _, base in ipairs(bases) do
    local moved = { n = base.n }
    for i = 1, base.n do
      local make = base[i][2]
      moved[i] = { base[i][1]:match("^[%a%d]+%(") and "ocl " .. base[i][1] or base[i][1],
        function() return E.dev(make()) end }
    end
    if emit(moved) then mutate(moved, device_values) end
  end
end

-- A target's calls from a list of damaged files: each call writes its file.
local function file_walk(make_cases, fname)
  return function(name, emit)
    for i, c in ipairs(make_cases()) do
      local path = fname .. i
      emit({ n = 1, { c[1], function() return E.file(path, c[2]) end } })
    end
  end
end

local walkers = {
  checkpoint = file_walk(F.checkpoint_cases, "damaged.ckpt."),
  idx = file_walk(F.idx_cases, "damaged.idx."),
  png = file_walk(F.png_cases, "damaged.png."),
  safetensors = file_walk(F.safetensors_cases, "damaged.safetensors."),
  npy = file_walk(F.npy_cases, "damaged.npy."),
}

-- Every target, with its function compiled.
local function targets()
  local list = dofile(here .. "/robustness/targets.lua")(luann)
  for _, t in ipairs(list) do
    t[2] = t[2]:gsub("\n%s*", " ")
    t.fn = compile(t[2], t[1])
  end
  return list
end

-- Files the probes name.
local function make_files()
  luann.save("valid.ckpt", { w = luann.randn(2, 3), n = 3, s = "x", sub = { 1, true } })
  E.file("valid.idx", string.pack(">I4I4I4", 0x0802, 2, 2) .. "\1\2\3\4")
end

local function sweep(all, log, first, last, skipped)
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
    local name, fn = all[ti][1], all[ti].fn
    local ci, started, hung = 0, os.clock(), false
    local walker = walkers[all[ti].files] or walk
    walker(name, function(specs)
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
      E.ARGS = { n = 0 }
      luann.set_grad_enabled(true)
      return ok
    end)
    collectgarbage()
    log:write(string.format("TIME %.2f s %d calls %s\n", os.clock() - started, ci, name))
  end
  log:write("DONE\n")
end

-- ---- the fuzzer -----------------------------------------------------------------

-- A string as a Lua literal on one line.
local function literal(s)
  return '"' .. s:gsub('[%c"\\\128-\255]', function(c) return ("\\%03d"):format(c:byte()) end) .. '"'
end

local ARG_COUNTS = { 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6 }
local MUTATIONS = { 0, 0, 1, 1, 1, 2 } -- arguments replaced in a probe

-- One random call after another: see the usage at the top.
local function fuzz(all, log, seed, ncalls)
  math.randomseed(seed)
  local rnd = math.random
  local plain, file_targets = {}, {}
  for _, t in ipairs(all) do
    local list = t.files and file_targets or plain
    list[#list + 1] = t
  end
  local good, bad = {}, {} -- values that make valid calls likely; the rest
  for _, list in ipairs { probe_only, tensors } do
    for _, v in ipairs(list) do good[#good + 1] = v end
  end
  for _, list in ipairs { others, extra, device_tensors } do
    for _, v in ipairs(list) do bad[#bad + 1] = v end
  end
  local pool = {} -- the calls whose results later calls may take

  -- An earlier result, the recent ones more often: R[j], its first element,
  -- or it moved to the device.
  local function result()
    local at = #pool > 4 and rnd(3) > 1 and rnd(#pool - 3, #pool) or rnd(#pool)
    local j = pool[at]
    local r, src = E.R[j], "R[" .. pool[at] .. "]"
    if type(r) == "table" and rawget(r, 1) ~= nil and rnd(2) == 1 then
      src = src .. "[1]"
    elseif has_opencl and luann.is_tensor(r) and rnd(10) == 1 then
      src = "dev(" .. src .. ")"
    end
    return src
  end

  local function argument()
    local x = rnd()
    if #pool > 0 and x < 0.3 then return result() end
    if x < 0.65 then return good[rnd(#good)][3] end
    return bad[rnd(#bad)][3]
  end

  -- A probe with a few arguments replaced (or one dropped), or a random
  -- list; a method's self is often an earlier result.
  local function arguments(t)
    local args, n = {}, 0
    if rnd() < 0.5 then
      local p = probes[rnd(#probes)].specs
      n = p.n
      for i = 1, n do args[i] = p[i][3] end
      for _ = 1, MUTATIONS[rnd(#MUTATIONS)] do
        local pos = rnd(n + 1)
        args[pos], n = argument(), math.max(n, pos)
      end
      if n > 0 and rnd(8) == 1 then n = n - 1 end
    else
      n = ARG_COUNTS[rnd(#ARG_COUNTS)]
      for i = 1, n do args[i] = argument() end
    end
    if #pool > 0 and rnd() < (t[1]:find("^Tensor") and 0.6 or 0.25) then
      args[1], n = result(), math.max(n, 1)
    end
    for i = 1, n do args[i] = args[i] or "nil" end
    return table.move(args, 1, n, 1, {})
  end

  local function next_call(i)
    local x = rnd()
    if #pool > 0 and x < 0.04 then -- an earlier result dropped and collected
      local at = rnd(#pool)
      local j = table.remove(pool, at)
      return "R[" .. j .. "] = nil collectgarbage()"
    end
    if #pool > 0 and x < 0.08 then -- backward through an earlier result
      return ("step(%d, function() return TM.methods.backward, %s:sum() end)"):format(i, result())
    end
    if x < 0.16 then -- a damaged file
      local t = file_targets[rnd(#file_targets)]
      local make = ({ idx = F.random_idx, png = F.random_png, safetensors = F.random_safetensors,
        npy = F.random_npy })[t.files] or F.random_checkpoint
      local bytes, desc = make(rnd)
      return ("step(%d, function() return %s, file(%q, %s) end) -- %s"):format(i, t[2],
        "fuzz." .. t.files, literal(bytes), desc), true
    end
    local t = plain[rnd(#plain)]
    local args = arguments(t)
    -- the call's parts on a line of their own, for the parent to shrink
    local parts = { ("%q"):format(t[1]), ("%q"):format(t[2]) }
    for k, a in ipairs(args) do parts[k + 2] = ("%q"):format(a) end
    return "--@ " .. table.concat(parts, ", ") .. "\n"
      .. ("step(%d, function() return %s end) -- %s"):format(i,
        table.concat({ t[2], table.unpack(args) }, ", "), t[1])
  end

  local files = 0
  for i = 1, ncalls do
    local line, is_file = next_call(i)
    if is_file then files = files + 1 end
    log:write(line, "\n")
    line = line:gsub("^%-%-@[^\n]*\n", "")
    if not pcall(function() assert(load(line, "=call " .. i, "t", E))() end) then
      -- out of memory outside the call (a script would stop there): start
      -- afresh from the calls after it
      E.R, pool = {}, {}
      collectgarbage()
      log:write("R = {} collectgarbage()\n")
    end
    if E.R[i] ~= nil then pool[#pool + 1] = i end
  end
  collectgarbage()
  log:write(("DONE %d %d %d\n"):format(ncalls, files, #pool))
end

-- ---- main -----------------------------------------------------------------------

local mode = arg[1]
local all = targets()
if mode == "count" then
  print(#all)
  return
end
local usage = "usage: robustness_child.lua count | run LOG FIRST LAST [SKIP] | fuzz LOG SEED CALLS"
local log = assert(io.open(assert(arg[2], usage), "w"))
log:setvbuf("no")
if mode == "run" then
  local skipped = {}
  for id in (arg[5] or ""):gmatch("[^,]+") do skipped[id] = true end
  sweep(all, log, tonumber(arg[3]), tonumber(arg[4]), skipped)
elseif mode == "fuzz" then
  fuzz(all, log, assert(math.tointeger(tonumber(arg[3])), usage), tonumber(arg[4]))
else
  error(usage)
end
log:close()
