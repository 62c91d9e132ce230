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
-- 1. probes: f with plausible argument lists (shapes that fit mm, gather,
--    cat, cross-entropy, ...); each probe that succeeds is a valid call,
--    and up to MAX_BASES of them become bases;
-- 2. a blind matrix: f(), f(v), f(v, t), f(t, a, b) for every bad value v,
--    small values a, b, and f(t, v) for a few tensors t when no probe
--    succeeded;
-- 3. mutations: each base with each argument in turn (and one more after
--    the last) replaced by every bad value, reaching the checks deep
--    inside each op; with OpenCL, each base on the device too.
-- luann.load and luann.read_idx get damaged files instead (truncated,
-- forged headers, damaged payloads wrapped in valid checksums).
-- The log also gets a HANG line for a call that loops, and a TIME line per
-- target (seconds and calls, for keeping the sweep fast).
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

-- The same on an OpenCL device, when there is one: mixed devices, and
-- device kernels given bad indices.
local has_opencl = not os.getenv("LUANN_NO_OPENCL") and luann.opencl.is_available()

local function on_device(v)
  if not luann.is_tensor(v) then return v end
  local ok, moved = pcall(v.to, v, "opencl")
  return ok and moved or v
end

local device_tensors = {}
if has_opencl then
  for _, label in ipairs { "f32(2,3)", "i64(2,3)", "bool(2,3)", "f32(3,2).T", "f32()",
    "f32(0,3)", "i64{1,2}", "i64{5,-7,0}", "f32(2,3)rg" } do
    for _, v in ipairs(tensors) do
      if v[1] == label then
        local make = v[2]
        device_tensors[#device_tensors + 1] = { "ocl " .. label, function() return on_device(make()) end }
      end
    end
  end
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
        function() return on_device(make()) end }
    end
    if emit(moved) then mutate(moved, device_values) end
  end
end

-- ---- damaged files for luann.load and luann.read_idx --------------------------

-- Checksums and a zlib/gzip writer using stored (uncompressed) blocks, so
-- that damaged payloads can be wrapped in valid checksums and reach the
-- parsers behind them.
local checksums = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/checksums.lua")
local crc32, adler32 = checksums.crc32, checksums.adler32

local function stored_blocks(data)
  local parts, at = {}, 1
  repeat
    local piece = data:sub(at, at + 65534)
    at = at + #piece
    local final = at > #data and 1 or 0
    parts[#parts + 1] = string.pack("<BI2I2", final, #piece, (~#piece) & 0xFFFF) .. piece
  until at > #data
  return table.concat(parts)
end

local function zlib(data)
  return "\x78\x01" .. stored_blocks(data) .. string.pack(">I4", adler32(data))
end

local function gzip(data)
  return "\x1f\x8b\x08\x00\0\0\0\0\0\xff" .. stored_blocks(data)
    .. string.pack("<I4I4", crc32(data), #data & 0xFFFFFFFF)
end

-- A checkpoint file around a payload (core/checkpoint.c's FORMAT), with
-- fields that can be forged.
local function checkpoint(payload, o)
  o = o or {}
  local stored = zlib(payload)
  local header = "LUANNCKP" .. string.pack("<I4I4I8I8I4", o.version or 1, o.flags or 0,
    o.payload_size or #payload, o.stored_size or #stored, o.crc or crc32(stored))
  return header .. string.pack("<I4", crc32(header)) .. stored
end

-- Payload records.
local P = {}
function P.int(v) return string.pack("<Bi8", 3, v) end
function P.float(v) return string.pack("<Bd", 4, v) end
function P.str(v, len) return string.pack("<BI8", 5, len or #v) .. v end
function P.tensor(dtype, flags, sizes, data, ndim)
  local r = { string.pack("<BBBB", 6, dtype, flags, ndim or #sizes) }
  for _, n in ipairs(sizes) do r[#r + 1] = string.pack("<i8", n) end
  return table.concat(r) .. (data or "")
end
function P.tbl(count, ...) return string.pack("<BI8", 7, count) .. table.concat({ ... }) end

local function nested(depth)
  local r = P.int(1)
  for _ = 1, depth do r = P.tbl(1, P.int(1), r) end
  return r
end

local valid_payload = P.tbl(3,
  P.str("w"), P.tensor(0, 1, { 2, 3 }, string.rep("\0\0\128\63", 6)),
  P.int(1), P.tensor(2, 0, { 2 }, string.pack("<i8i8", 7, -7)),
  P.str("x"), P.tbl(2, P.int(1), P.float(0.5), P.str("b"), "\2"))

-- {description, file bytes} for luann.load.
local function checkpoint_cases()
  local cases = {
    { "valid", checkpoint(valid_payload) },
    { "empty file", "" },
    { "empty payload", checkpoint("") },
    { "unknown tags", checkpoint("\0") }, { "tag 8", checkpoint("\8") }, { "tag 255", checkpoint("\255") },
    { "cut int", checkpoint("\3\1\2") },
    { "string longer than the file", checkpoint(P.str("ab", 1 << 62)) },
    { "string length 2^64-1", checkpoint(P.str("ab", -1)) },
    { "string one past the end", checkpoint(P.str("ab", 3)) },
    { "tensor dtype 5", checkpoint(P.tensor(5, 0, { 1 }, "\0")) },
    { "tensor dtype 255", checkpoint(P.tensor(255, 0, { 1 }, "\0")) },
    { "tensor ndim 9", checkpoint(P.tensor(0, 0, { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, "\0\0\0\0")) },
    { "tensor ndim 255 claimed", checkpoint(P.tensor(0, 0, { 1 }, "\0\0\0\0", 255)) },
    { "tensor negative size", checkpoint(P.tensor(0, 0, { -1 }, "")) },
    { "tensor sizes overflowing to 0 bytes", checkpoint(P.tensor(0, 0, { 1 << 32, 1 << 32 }, "")) },
    { "tensor sizes overflowing to 16 bytes", checkpoint(P.tensor(0, 0, { (1 << 62) + 1, 4 }, string.rep("\0", 16))) },
    { "tensor 2^40 elements", checkpoint(P.tensor(3, 0, { 1 << 40 }, "")) },
    { "tensor data short", checkpoint(P.tensor(1, 0, { 4 }, string.rep("\0", 31))) },
    { "int64 tensor requiring grad", checkpoint(P.tensor(2, 1, { 1 }, string.rep("\0", 8))) },
    { "tensor unknown flags", checkpoint(P.tensor(0, 254, { 1 }, string.rep("\0", 4))) },
    { "bool tensor holding 7", checkpoint(P.tensor(4, 0, { 2 }, "\7\255")) },
    { "table count 2^62", checkpoint(P.tbl(1 << 62, P.int(1), P.int(2))) },
    { "table count 2^64-1", checkpoint(P.tbl(-1, P.int(1), P.int(2))) },
    { "table missing pairs", checkpoint(P.tbl(2, P.int(1), P.int(2))) },
    { "table tensor key", checkpoint(P.tbl(1, P.tensor(0, 0, { 1 }, "\0\0\0\0"), P.int(1))) },
    { "table float key", checkpoint(P.tbl(1, P.float(0 / 0), P.int(1))) },
    { "table table key", checkpoint(P.tbl(1, P.tbl(0), P.int(1))) },
    { "table duplicate keys", checkpoint(P.tbl(2, P.int(1), P.int(1), P.int(1), P.int(2))) },
    { "table extreme int keys", checkpoint(P.tbl(2, P.int(math.mininteger), "\1", P.int(0), "\2")) },
    { "string key with zeros", checkpoint(P.tbl(1, P.str("a\0b"), "\2")) },
    { "nested 64", checkpoint(nested(64)) },
    { "nested 10000", checkpoint(nested(10000)) },
    { "data after the root", checkpoint(P.int(1) .. P.int(2)) },
    { "version 2", checkpoint(valid_payload, { version = 2 }) },
    { "flags 1", checkpoint(valid_payload, { flags = 1 }) },
    { "payload size too big", checkpoint(valid_payload, { payload_size = #valid_payload + 1 }) },
    { "payload size too small", checkpoint(valid_payload, { payload_size = 3 }) },
    { "payload size 2^63", checkpoint(valid_payload, { payload_size = 1 << 63 }) },
    { "stored size wrong", checkpoint(valid_payload, { stored_size = 1 }) },
    { "stored size 2^64-1", checkpoint(valid_payload, { stored_size = -1 }) },
    { "bad stream crc", checkpoint(valid_payload, { crc = 1 }) },
  }
  local file = checkpoint(valid_payload)
  for len = 0, #file - 1, 3 do
    cases[#cases + 1] = { "valid file cut at " .. len, file:sub(1, len) }
  end
  for i = 1, #valid_payload do -- each payload byte damaged, checksums fixed
    local b = valid_payload:byte(i)
    for _, v in ipairs { 0, 255, (b + 1) & 255, b ~ 0x80 } do
      local damaged = valid_payload:sub(1, i - 1) .. string.char(v) .. valid_payload:sub(i + 1)
      cases[#cases + 1] = { ("payload byte %d set to %d"):format(i, v), checkpoint(damaged) }
    end
  end
  for i = 1, #file, 7 do -- raw damage: the checksums must catch it
    cases[#cases + 1] = { ("file byte %d flipped"):format(i),
      file:sub(1, i - 1) .. string.char(file:byte(i) ~ 0xFF) .. file:sub(i + 1) }
  end
  return cases
end

-- {description, file bytes} for luann.read_idx.
local function idx(type_code, dims, data, ndim)
  local r = { string.pack(">BBBB", 0, 0, type_code, ndim or #dims) }
  for _, n in ipairs(dims) do r[#r + 1] = string.pack(">I4", n) end
  return table.concat(r) .. (data or "")
end

local function idx_cases()
  local cases = {
    { "valid", idx(0x08, { 2, 2 }, "\1\2\3\4") },
    { "empty file", "" }, { "3 bytes", "\0\0\8" },
    { "ndim 0", idx(0x08, {}, "") }, { "ndim 9", idx(0x08, { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, "\0") },
    { "ndim 255 claimed", idx(0x08, { 1 }, "\0", 255) },
    { "dims cut short", idx(0x08, { 1 }, "", 3) },
    { "type 0x07", idx(0x07, { 1 }, "\0") },
    { "dims 2^32-1", idx(0x08, { 0xFFFFFFFF }, "") },
    { "dims overflowing int64", idx(0x0E, { 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF }, "") },
    { "dims with a zero", idx(0x0D, { 0, 0xFFFFFFFF }, "") },
    { "data short", idx(0x0C, { 3 }, "\0\0\0\1") },
    { "data long", idx(0x08, { 1 }, "\1\2") },
    { "gz valid", gzip(idx(0x0B, { 2 }, "\0\1\255\255")) },
    { "gz data short", gzip(idx(0x0E, { 2 }, string.rep("\0", 9))) },
    { "gz huge dims", gzip(idx(0x08, { 0x7FFFFFFF, 0x7FFFFFFF }, "\0")) },
    { "gz cut", gzip(idx(0x08, { 4 }, "\1\2\3\4")):sub(1, 20) },
    { "gz garbage after magic", "\x1f\x8b" .. string.rep("\xAA", 40) },
  }
  for _, t in ipairs { 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E } do
    local file = idx(t, { 2, 3 }, string.rep("\1", 48))
    for i = 1, 12 do
      for _, v in ipairs { 0, 255, 0x80, 9 } do
        cases[#cases + 1] = { ("type 0x%02x, header byte %d set to %d"):format(t, i, v),
          file:sub(1, i - 1) .. string.char(v) .. file:sub(i + 1) }
      end
    end
  end
  return cases
end

-- A target's calls from a list of damaged files: each call writes its file.
local function file_walk(make_cases, fname)
  return function(name, emit)
    for i, c in ipairs(make_cases()) do
      local path = fname .. i
      emit({ n = 1, { c[1], function()
        local f = assert(io.open(path, "wb"))
        f:write(c[2])
        f:close()
        return path
      end } })
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
  list[#list + 1] = { "luann.load(damaged checkpoint)", luann.load,
    walk = file_walk(checkpoint_cases, "damaged.ckpt.") }
  list[#list + 1] = { "luann.read_idx(damaged IDX file)", luann.read_idx,
    walk = file_walk(idx_cases, "damaged.idx.") }
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
  local walker = all[ti].walk or walk
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
    luann.set_grad_enabled(true)
    return ok
  end)
  collectgarbage()
  log:write(string.format("TIME %.2f s %d calls %s\n", os.clock() - started, ci, name))
end
log:write("DONE\n")
log:close()
