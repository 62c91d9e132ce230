-- The OpenCL backend: every op, forward and backward, on an OpenCL device
-- against the CPU on the same random inputs (ggml's test-backend-ops idea),
-- over shapes that do and do not fill a work-group, transposed, sliced and
-- broadcast operands, and every dtype an op takes; devices, memory, errors,
-- a small model trained on both devices, and a process with no OpenCL
-- platform at all. Every describe is tagged #opencl (LUANN_NO_OPENCL=1
-- excludes them, see .busted).
local luann = require "luann"

local HAVE = #luann.opencl.devices() > 0

-- ---- helpers --------------------------------------------------------------

local cmp = require "opencl_compare"
local GPU, assert_same, both = cmp.GPU, cmp.assert_same, cmp.both
local F32, F64, EXACT = cmp.F32, cmp.F64, cmp.EXACT

local function randn(shape, dtype) return luann.randn(shape, { dtype = dtype or "float32" }) end

-- Shapes that fill no work-group, odd ones, and ones spanning several.
local SHAPES = { {}, { 1 }, { 7 }, { 3, 5 }, { 4, 1, 6 }, { 257 }, { 33, 65 } }

-- Views of x that are not contiguous (x is contiguous, >= 2-D).
local function views(x)
  local vs = { x:t() }
  if x.shape[2] > 2 then vs[#vs + 1] = x:narrow(2, 2, x.shape[2] - 2) end
  return vs
end

local function shape_str(s) return "(" .. table.concat(s, ",") .. ")" end

-- ---- the specs --------------------------------------------------------------

describe("luann opencl #opencl", function()
  setup(function() luann.manual_seed(7) end)

  it("finds an OpenCL device (PoCL in CI)", function()
    assert.is_true(HAVE, "no OpenCL device: install pocl-opencl-icd, or set LUANN_NO_OPENCL=1")
  end)
  if not HAVE then return end

  describe("devices #opencl", function()
    it("lists each device with its platform, name, memory and compute units", function()
      local d = luann.opencl.devices()[1]
      assert.equal("opencl:0", d.device)
      assert.is_string(d.platform)
      assert.is_string(d.name)
      assert.is_true(d.memory > 0 and d.compute_units > 0 and d.max_alloc > 0)
      assert.is_boolean(d.fp64)
      assert.is_true(d.type == "gpu" or d.type == "cpu" or d.type == "accelerator" or d.type == "other")
      assert.is_true(luann.opencl.is_available())
    end)

    it("names devices with luann.device", function()
      assert.equal("opencl:0", luann.device("opencl"))
      assert.equal("opencl:0", luann.device("opencl:0"))
      assert.equal("cpu", luann.device("cpu"))
      local n = #luann.opencl.devices()
      local ok, err = pcall(luann.device, "opencl:" .. n)
      assert.is_false(ok)
      assert.matches("does not exist", err)
      ok, err = pcall(luann.device, "cuda")
      assert.is_false(ok)
      assert.matches("unknown device 'cuda'", err)
    end)

    it("moves tensors of every dtype there and back, views included", function()
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8", "bool" }) do
        local x = (randn({ 5, 6 }) * 4):to(dt)
        for _, v in ipairs({ x, x:t(), x:narrow(1, 2, 3), x[2] }) do
          local g = v:to(GPU)
          assert.equal("opencl:0", g.device)
          assert.same(v:tolist(), g:tolist())
          assert.same(v:tolist(), g:cpu():tolist())
        end
      end
    end)

    it("creates tensors on the device", function()
      luann.manual_seed(3)
      local a = luann.randn(4, 5)
      luann.manual_seed(3)
      local b = luann.randn(4, 5, { device = GPU })
      assert_same(a, b)
      assert_same(luann.zeros(3, 2), luann.zeros(3, 2, { device = GPU }))
      assert_same(luann.full({ 2, 3 }, 2.5), luann.full({ 2, 3 }, 2.5, { device = GPU }))
      assert_same(luann.arange(0, 10, 3), luann.arange(0, 10, 3, { device = GPU }))
      assert_same(luann.linspace(0, 1, 7), luann.linspace(0, 1, 7, { device = GPU }))
      assert_same(luann.eye(3, 4), luann.eye(3, 4, { device = GPU }))
      assert_same(luann.ones(0), luann.ones(0, { device = GPU }))
    end)

    it("refuses to mix devices in one op, naming both", function()
      local a, b = luann.ones(2), luann.ones(2, { device = GPU })
      local ok, err = pcall(luann.add, a, b)
      assert.is_false(ok)
      assert.matches("expected tensors on the same device, got cpu and opencl:0", err, 1, true)
      ok, err = pcall(luann.matmul, luann.ones(2, 2, { device = GPU }), luann.ones(2, 2))
      assert.is_false(ok)
      assert.matches("opencl:0 and cpu", err, 1, true)
    end)

    it("reuses freed buffers from its pool and gives them back on request", function()
      luann.opencl.synchronize()
      local before = luann.opencl.memory()
      do
        local t <close> = luann.zeros(1000, { device = GPU })
        assert.is_true(luann.opencl.memory().allocated >= before.allocated + 4000)
      end
      collectgarbage()
      local m = luann.opencl.memory()
      assert.is_true(m.cached >= 4000)
      luann.opencl.empty_cache()
      assert.equal(0, luann.opencl.memory().cached)
    end)
  end)

  describe("copies and fills #opencl", function()
    it("converts between every pair of dtypes like the CPU", function()
      local x = luann.tensor({ -2.7, -0.5, 0, 0.5, 1.5, 300.25, 0 / 0, 1 / 0 })
      local dts = { "float32", "float64", "int64", "uint8", "bool" }
      for _, from in ipairs(dts) do
        local src = from == "float32" and x or x:to(from)
        for _, to in ipairs(dts) do
          both(function(s) return s:to(to) end, { src }, { what = from .. "->" .. to })
          both(function(s) return s:t():to(to) end, { src:view(2, 4) }, { what = from .. "->" .. to .. " (T)" })
        end
      end
    end)

    it("copies into strided and broadcast destinations", function()
      both(function(d, s) d:t():copy_(s) return d end, { randn({ 4, 3 }), randn({ 3, 4 }) })
      both(function(d, s) d:narrow(2, 2, 3):copy_(s) return d end, { randn({ 5, 6 }), randn({ 3 }) })
      both(function(d, s) d:copy_(s) return d end, { randn({ 3, 4 }, "float64"), randn({ 3, 4 }) })
    end)

    it("fills contiguous and strided tensors of every dtype", function()
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8", "bool" }) do
        both(function(d) d:fill_(3) return d end, { luann.zeros(5, 7, { dtype = dt }) })
        both(function(d) d:t():narrow(1, 2, 3):fill_(1) return d end, { luann.zeros(5, 7, { dtype = dt }) })
        both(function(d) d:zero_() return d end, { luann.ones(257, { dtype = dt }) })
      end
    end)
  end)

  describe("unary ops #opencl", function()
    local FLOAT_OPS = { "neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh",
      "sigmoid", "relu", "sign", "floor", "ceil", "round", "reciprocal", "square", "log1p",
      "expm1", "gelu", "silu", "erf", "tan", "asin", "acos", "atan" }
    local DIFF = { neg = true, abs = true, exp = true, log = true, sqrt = true, rsqrt = true,
      sin = true, cos = true, tanh = true, sigmoid = true, relu = true, reciprocal = true,
      square = true, log1p = true, expm1 = true, gelu = true, silu = true, erf = true,
      tan = true, asin = true, acos = true, atan = true }
    local TESTS = { "logical_not", "isnan", "isinf", "isfinite" }

    it("match the CPU on every shape, forward and backward", function()
      for _, name in ipairs(FLOAT_OPS) do
        for _, shape in ipairs(SHAPES) do
          local x = randn(shape) * 2
          both(function(a) return luann[name](a) end, { x },
            { grad = DIFF[name], what = name .. " " .. shape_str(shape), tol = { rtol = 1e-5, atol = 1e-6 } })
        end
      end
    end)

    it("match the CPU on float64, views, NaN and infinities", function()
      local special = luann.tensor({ 0 / 0, 1 / 0, -1 / 0, 0, -0.0, 0.5, -0.5, 2.5, -2.5, 1e-30 })
      for _, name in ipairs(FLOAT_OPS) do
        both(function(a) return luann[name](a) end, { special }, { what = name .. " special" })
        both(function(a) return luann[name](a) end, { randn({ 3, 4 }, "float64") }, { what = name .. " float64" })
        for _, v in ipairs(views(randn({ 5, 6 }))) do
          both(function(a) return luann[name](a) end, { v }, { what = name .. " view" })
        end
      end
    end)

    it("run in place on strided tensors", function()
      both(function(a) a:t():exp_() return a end, { randn({ 4, 5 }) })
      both(function(a) a:narrow(1, 2, 2):relu_() return a end, { randn({ 4, 5 }) })
    end)

    it("take integer tensors where the result is an integer", function()
      local x = luann.tensor({ -3, -1, 0, 2, 5 }, { dtype = "int64" })
      for _, name in ipairs({ "neg", "abs", "relu", "sign", "square", "floor", "ceil", "round" }) do
        both(function(a) return luann[name](a) end, { x }, { what = name })
      end
      for _, name in ipairs(TESTS) do
        both(function(a) return luann[name](a) end, { x }, { what = name })
        both(function(a) return luann[name](a) end, { randn({ 3, 3 }):gt(0) }, { what = name })
      end
    end)

    it("test for NaN and infinities, float32 and float64, strided, with bool results", function()
      local special = luann.tensor({ { 0 / 0, 1 / 0, -1 / 0 }, { 0, -2.5, 1e-30 } })
      for _, name in ipairs(TESTS) do
        for _, x in ipairs({ special, special:double() }) do
          local _, r = both(function(a) return luann[name](a) end, { x }, { what = name })
          assert.equal("bool", r[1].dtype)
          both(function(a) return luann[name](a:t()) end, { x }, { what = name .. " (T)" })
        end
      end
      -- asin and acos between -1 and 1, with gradients, in float64
      local unit = luann.tensor({ -0.9, -0.5, 0, 0.25, 0.75 }, { dtype = "float64" })
      for _, name in ipairs({ "asin", "acos" }) do
        both(function(a) return luann[name](a) end, { unit }, { grad = true, what = name })
        both(function(a) return luann[name](a) end, { unit:float() }, { grad = true, what = name })
      end
    end)

    it("clamp and leaky_relu like the CPU, with gradients", function()
      for _, shape in ipairs(SHAPES) do
        both(function(a) return luann.clamp(a, -0.5, 0.7) end, { randn(shape) }, { grad = true })
        both(function(a) return luann.leaky_relu(a, 0.1) end, { randn(shape) }, { grad = true })
      end
      both(function(a) return luann.clamp(a, 1.5, 3.5) end, { luann.arange(-2, 6, { dtype = "int64" }) })
      both(function(a) return luann.clamp(a, 2, 250) end, { luann.arange(0, 255, 7, { dtype = "uint8" }) })
    end)
  end)

  describe("binary ops #opencl", function()
    local ARITH = { "add", "sub", "mul", "div", "pow", "maximum", "minimum", "fmod", "atan2", "remainder",
      "floor_divide" }
    local PAIRS = { { { 3, 5 }, { 3, 5 } }, { { 4, 1, 6 }, { 5, 1 } }, { { 1 }, { 7 } }, { {}, { 2, 3 } },
      { { 33, 65 }, { 65 } }, { { 257 }, {} } }

    it("match the CPU with broadcasting, forward and backward", function()
      for _, name in ipairs(ARITH) do
        for _, p in ipairs(PAIRS) do
          local a, b = randn(p[1]), randn(p[2])
          if name == "pow" then a = a:abs() + 0.5 end
          local diff = name ~= "fmod" and name ~= "floor_divide"
          both(function(x, y) return luann[name](x, y) end, { a, b },
            { grad = diff, what = name .. " " .. shape_str(p[1]) .. shape_str(p[2]), tol = { rtol = 1e-5, atol = 1e-6 } })
        end
      end
    end)

    it("match the CPU on transposed and sliced operands and float64", function()
      local a, b = randn({ 6, 5 }), randn({ 5, 6 })
      for _, name in ipairs(ARITH) do
        both(function(x, y) return luann[name](x:t(), y) end, { a:abs() + 0.5, b }, { what = name })
        both(function(x, y) return luann[name](x:narrow(1, 2, 3), y:t():narrow(1, 1, 3)) end,
          { a:abs() + 0.5, b }, { what = name .. " narrow" })
        both(function(x, y) return luann[name](x, y) end,
          { a:double():abs() + 0.5, b:t():double() }, { what = name .. " float64" })
      end
    end)

    it("compare and combine into bool for every dtype", function()
      local CMP = { "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor" }
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8", "bool" }) do
        local a = (randn({ 4, 1, 5 }) * 2):round():to(dt)
        local b = (randn({ 3, 1 }) * 2):round():to(dt)
        for _, name in ipairs(CMP) do
          both(function(x, y) return luann[name](x, y) end, { a, b }, { what = name .. " " .. dt })
        end
      end
      local nan = luann.tensor({ 0 / 0, 1, 0 / 0 })
      both(function(x, y) return x:eq(y), x:ne(y), x:lt(y) end, { nan, luann.tensor({ 0 / 0, 1, 2 }) })
    end)

    it("do integer arithmetic exactly", function()
      local a = luann.tensor({ 7, -7, 123456789012, 5, -9 }, { dtype = "int64" })
      local b = luann.tensor({ 2, 3, 1000, -3, 4 }, { dtype = "int64" })
      for _, name in ipairs({ "add", "sub", "mul", "maximum", "minimum", "fmod", "remainder", "floor_divide" }) do
        both(function(x, y) return luann[name](x, y) end, { a, b }, { what = name })
      end
      both(function(x, y) return luann.pow(x, y) end, { a:narrow(1, 1, 2), luann.tensor({ 3, 5 }, { dtype = "int64" }) })
      local u = luann.tensor({ 250, 3, 17 }, { dtype = "uint8" })
      both(function(x) return x + x, x * x end, { u })
    end)

    it("report an integer fmod by zero", function()
      local a = luann.tensor({ 1, 2 }, { dtype = "int64", device = GPU })
      local b = luann.tensor({ 1, 0 }, { dtype = "int64", device = GPU })
      local ok, err = pcall(function() return luann.fmod(a, b):tolist() end)
      assert.is_false(ok)
      assert.matches("fmod: integer division by zero", err, 1, true)
      assert.same({ 2, 4 }, (a + a):tolist()) -- the device still works
      for _, name in ipairs({ "remainder", "floor_divide" }) do
        ok, err = pcall(function() return luann[name](a, b):tolist() end)
        assert.is_false(ok)
        assert.matches(name .. ": integer division by zero", err, 1, true)
      end
    end)

    it("run in place, into strided views", function()
      both(function(x, y) x:t():add_(y) return x end, { randn({ 4, 5 }), randn({ 5, 1 }) })
      both(function(x, y) x:narrow(2, 1, 2):mul_(y) return x end, { randn({ 4, 5 }), randn({ 2 }) })
      both(function(x) x:div_(3) return x end, { randn({ 33, 65 }) })
    end)

    it("select with where, broadcasting, with gradients", function()
      local c = randn({ 4, 1, 6 }):gt(0)
      both(function(cond, x, y) return luann.where(cond, x, y) end, { c, randn({ 5, 1 }), randn({ 4, 5, 6 }) }, { grad = true })
      both(function(cond, x, y) return luann.where(cond, x, y) end,
        { randn({ 7 }):gt(0), luann.arange(7, { dtype = "int64" }), luann.zeros(7, { dtype = "int64" }) })
    end)

    it("handle lua operators and scalars", function()
      both(function(x) return (x * 2 + 1) / 3 - x ^ 2, -x end, { randn({ 3, 4 }) }, { grad = true })
    end)
  end)

  describe("reductions #opencl", function()
    local OPS = { "sum", "mean", "prod", "logsumexp", "amax", "amin" }

    it("match the CPU along each dim, keepdim or not, with gradients", function()
      for _, shape in ipairs({ { 7 }, { 3, 5 }, { 4, 1, 6 }, { 33, 65 }, { 2, 300, 3 } }) do
        local x = randn(shape)
        for _, name in ipairs(OPS) do
          if luann[name] then
            for d = 1, #shape do
              both(function(a) return luann[name](a, d) end, { x }, { grad = true, what = name .. " dim " .. d, tol = { rtol = 1e-4, atol = 1e-5 } })
              both(function(a) return luann[name](a:transpose(1, #shape), d, true) end, { x },
                { grad = true, what = name .. " T", tol = { rtol = 1e-4, atol = 1e-5 } })
            end
          end
        end
        both(function(a) return a:sum(), a:mean(), a:max(), a:min() end, { x }, { tol = { rtol = 1e-4, atol = 1e-5 } })
      end
    end)

    it("reduce long vectors over several work-groups", function()
      local x = randn({ 100003 })
      both(function(a) return a:sum(), a:mean(), a:max(), a:min(), a:argmax(), a:argmin() end, { x },
        { tol = { rtol = 1e-4, atol = 1e-3 } })
      both(function(a) return luann.logsumexp(a, 1) end, { x }, { tol = { rtol = 1e-5, atol = 1e-5 } })
      local o = luann.ones(1000000)
      assert.equal(1e6, o:to(GPU):sum():item())
    end)

    it("give max/min values with indices, ties and NaN as on the CPU", function()
      local x = luann.tensor({ { 1, 3, 3, 0 }, { 0 / 0, 2, 0 / 0, 5 }, { -1, -1, -2, -2 } })
      both(function(a) local v, i = a:max(2) return v, i end, { x })
      both(function(a) local v, i = a:min(2) return v, i end, { x })
      both(function(a) return a:argmax(2), a:argmin(1) end, { x })
      both(function(a) local v, i = a:max(1, true) return v, i end, { randn({ 33, 65 }) }, { grad = true })
    end)

    it("count and test integer and bool tensors", function()
      local x = (randn({ 5, 7 }) * 3):round()
      for _, dt in ipairs({ "int64", "uint8", "bool" }) do
        local t = dt == "uint8" and x:abs():to(dt) or x:to(dt)
        both(function(a) return a:sum(), a:sum(2), a:max(1) end, { t }, { what = dt })
        both(function(a) return luann.any(a, 2), luann.all(a, 1) end, { t }, { what = dt })
      end
      both(function(a) return a:prod(1) end, { x:to("int64") })
    end)

    it("compute softmax and log_softmax along any dim, with gradients", function()
      for _, shape in ipairs({ { 7 }, { 3, 5 }, { 4, 1, 6 }, { 33, 65 }, { 2, 1000 } }) do
        local x = randn(shape) * 3
        for d = 1, #shape do
          both(function(a) return luann.softmax(a, d) end, { x }, { grad = true, what = "softmax " .. d })
          both(function(a) return luann.log_softmax(a, d) end, { x }, { grad = true, what = "log_softmax " .. d })
        end
      end
      both(function(a) return luann.softmax(a:t(), 2), luann.log_softmax(a, 1) end, { randn({ 6, 9 }, "float64") })
      both(function(a) return luann.softmax(a, 1) end, { luann.tensor({ -1 / 0, 0, 1 / 0 }) })
    end)

    it("derive var, std and norm from them", function()
      local x = randn({ 6, 7 })
      both(function(a) return luann.var(a, 2), luann.std(a, 1), luann.norm(a) end, { x },
        { grad = true, tol = { rtol = 1e-4, atol = 1e-5 } })
    end)
  end)

  describe("matrix products #opencl", function()
    local TOL = { rtol = 1e-4, atol = 1e-4 }

    it("multiply matrices of many shapes through CLBlast, with gradients", function()
      for _, s in ipairs({ { 1, 1, 1 }, { 3, 4, 5 }, { 17, 1, 9 }, { 64, 33, 70 }, { 1, 300, 1 } }) do
        local a, b = randn({ s[1], s[2] }), randn({ s[2], s[3] })
        both(function(x, y) return luann.matmul(x, y) end, { a, b }, { grad = true, tol = TOL, gtol = TOL })
      end
    end)

    it("take transposed, sliced and expanded operands", function()
      local a, b = randn({ 6, 5 }), randn({ 7, 6 })
      both(function(x, y) return luann.matmul(x:t(), y:t()) end, { a, b }, { grad = true, tol = TOL, gtol = TOL })
      both(function(x, y) return luann.mm(x:narrow(2, 2, 3), y:narrow(1, 1, 3)) end,
        { randn({ 4, 6 }), randn({ 5, 8 }) }, { grad = true, tol = TOL, gtol = TOL })
      -- neither stride is 1: a copy first
      both(function(x, y) return luann.mm(x:t():narrow(1, 1, 3):t(), y) end, { randn({ 4, 6 }):t():contiguous():t(), randn({ 3, 2 }) },
        { tol = TOL })
      both(function(x, y) return luann.matmul(x:expand(4, 3), y) end, { randn({ 1, 3 }), randn({ 3, 5 }) }, { grad = true, tol = TOL, gtol = TOL })
      -- strides (12, 2): one element of every pair
      both(function(x, y) return luann.mm(x:select(3, 1), y) end, { randn({ 4, 6, 2 }), randn({ 6, 3 }) }, { grad = true, tol = TOL, gtol = TOL })
    end)

    it("batch with bmm and broadcast matmul", function()
      both(function(x, y) return luann.bmm(x, y) end, { randn({ 3, 4, 5 }), randn({ 3, 5, 2 }) }, { grad = true, tol = TOL, gtol = TOL })
      both(function(x, y) return luann.matmul(x, y) end, { randn({ 2, 3, 4, 5 }), randn({ 5, 6 }) }, { grad = true, tol = TOL, gtol = TOL })
      both(function(x, y) return luann.matmul(x, y) end, { randn({ 4, 5 }), randn({ 3, 5, 2 }) }, { grad = true, tol = TOL, gtol = TOL })
      both(function(x, y) return luann.bmm(x:transpose(2, 3), y) end, { randn({ 3, 5, 4 }), randn({ 3, 5, 2 }) }, { tol = TOL })
    end)

    it("cover vectors, addmm, dot, outer, linear and float64", function()
      both(function(x, y) return luann.matmul(x, y) end, { randn({ 5 }), randn({ 5, 3 }) }, { grad = true, tol = TOL, gtol = TOL })
      both(function(x, y) return luann.matmul(x, y) end, { randn({ 4, 5 }), randn({ 5 }) }, { grad = true, tol = TOL, gtol = TOL })
      both(function(x, y) return luann.dot(x, y), luann.outer(x, y) end, { randn({ 9 }), randn({ 9 }) }, { grad = true, tol = TOL, gtol = TOL })
      both(function(c, x, y) return luann.addmm(c, x, y, { beta = 0.5, alpha = 2 }) end, { randn({ 3, 1 }), randn({ 3, 4 }), randn({ 4, 2 }) },
        { grad = true, tol = TOL, gtol = TOL })
      both(function(x, w, b) return luann.linear(x, w, b) end, { randn({ 8, 5 }), randn({ 3, 5 }), randn({ 3 }) },
        { grad = true, tol = TOL, gtol = TOL })
      both(function(x, y) return luann.matmul(x, y) end, { randn({ 7, 3 }, "float64"), randn({ 3, 4 }, "float64") }, { grad = true })
      both(function(x, y) return luann.matmul(x, y) end, { randn({ 3, 0 }), randn({ 0, 4 }) })
    end)
  end)

  describe("indexing #opencl", function()
    local function idx(shape, hi) return luann.randint(1, hi + 1, shape, { dtype = "int64" }) end

    it("gathers and selects like the CPU, with gradients", function()
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8", "bool" }) do
        local a = (randn({ 5, 7 }) * 3):to(dt)
        local grad = dt == "float32" or dt == "float64"
        both(function(x, i) return luann.gather(x, 2, i) end, { a, idx({ 4, 9 }, 7) }, { grad = grad, what = "gather " .. dt })
        both(function(x, i) return luann.gather(x:t(), 1, i) end, { a, idx({ 3, 5 }, 7) }, { what = "gather T " .. dt })
        both(function(x, i) return luann.index_select(x, 1, i) end, { a, idx({ 9 }, 5) }, { grad = grad, what = "index_select " .. dt })
        both(function(x, i) return luann.index_select(x:t(), 2, i) end, { a, idx({ 3 }, 5) }, { what = "index_select T " .. dt })
      end
    end)

    it("scatters and adds at indices like the CPU, duplicates included", function()
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8", "bool" }) do
        local dst, src = (randn({ 5, 9 }) * 3):to(dt), (randn({ 5, 8 }) * 3):to(dt)
        local grad = dt == "float32" or dt == "float64"
        local i = idx({ 4, 6 }, 9)
        both(function(d, x, ix) return luann.scatter(d, 2, ix, x) end, { dst, src, i }, { grad = grad, what = "scatter " .. dt })
        both(function(d, x, ix) return luann.scatter_add(d, 2, ix, x) end, { dst, src, i }, { grad = grad, what = "scatter_add " .. dt })
        local j = idx({ 8 }, 5)
        both(function(d, x, ix) return luann.index_add(d, 1, ix, x) end, { dst, (randn({ 8, 9 }) * 3):to(dt), j },
          { grad = grad, what = "index_add " .. dt })
        both(function(d, x, ix) return d:t():index_add_(2, ix, x) end, { dst, (randn({ 9, 8 }) * 3):to(dt), j },
          { what = "index_add_ T " .. dt })
      end
    end)

    it("fills and selects through masks, with gradients", function()
      local a, m = randn({ 33, 65 }), randn({ 33, 65 }):gt(0.3)
      both(function(x, mk) return luann.masked_fill(x, mk, -1) end, { a, m }, { grad = true })
      both(function(x, mk) return luann.masked_select(x, mk) end, { a, m }, { grad = true })
      both(function(x, mk) return luann.masked_select(x:t(), mk) end, { a, randn({ 33 }):gt(0) })
      both(function(x, mk) return luann.masked_select(x, mk) end, { randn({ 100000 }), randn({ 100000 }):gt(0) })
      both(function(x, i) return luann.index_fill(x, 2, i, 7) end, { a, idx({ 5 }, 65) })
    end)

    it("sorts stably, NaN last, along any dim and for every dtype", function()
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8", "bool" }) do
        local a = (randn({ 6, 9 }) * 2):round():to(dt)
        for d = 1, 2 do
          for _, desc in ipairs({ false, true }) do
            both(function(x) local v, i = luann.sort(x, d, desc) return v, i end, { a }, { what = "sort " .. dt })
          end
        end
      end
      local n = luann.tensor({ 3, 0 / 0, 1, 3, 0 / 0, -1 })
      both(function(x) local v, i = luann.sort(x) return v, i end, { n })
      both(function(x) local v, i = luann.sort(x, 1, true) return v, i end, { n })
      local long = (randn({ 5000 }) * 10):round()
      both(function(x) local v, i = luann.sort(x) return v, i end, { long }, { grad = true })
      both(function(x) return luann.argsort(x:t(), 1) end, { randn({ 3, 700 }) })
      both(function(x) local v, i = luann.topk(x, 3, 2) return v, i end, { randn({ 4, 50 }) }, { grad = true })
    end)

    it("concatenates, stacks and one-hot encodes", function()
      both(function(x, y) return luann.cat({ x, y:t() }, 1) end, { randn({ 2, 3 }), randn({ 3, 4 }) }, { grad = true })
      both(function(x, y) return luann.stack({ x, y }, 2) end, { randn({ 2, 3 }), randn({ 2, 3 }) }, { grad = true })
      both(function(i) return luann.one_hot(i, 6) end, { idx({ 7 }, 6) })
    end)

    it("reports an index out of range on the next read, with the CPU's message", function()
      local a = randn({ 3, 4 }):to(GPU)
      local bad = luann.tensor({ { 1, 5 } }, { dtype = "int64", device = GPU })
      local ok, err = pcall(function() return luann.gather(a, 2, bad):tolist() end)
      assert.is_false(ok)
      assert.matches("gather: index 5 is out of range for dim 2 of size 4", err, 1, true)
      ok, err = pcall(function()
        return luann.index_select(a, 1, luann.tensor({ 0 }, { dtype = "int64", device = GPU })):tolist()
      end)
      assert.is_false(ok)
      assert.matches("index_select: index 0 is out of range for dim 1 of size 3", err, 1, true)
      assert.same(a:cpu():tolist(), a:tolist()) -- the flag was cleared
    end)
  end)

  describe("losses and optimizers #opencl", function()
    it("compute cross entropy and nll like the CPU, with gradients", function()
      local x, t = randn({ 6, 5 }), luann.randint(1, 6, { 6 }, { dtype = "int64" })
      both(function(a, y) return luann._cross_entropy(a, y, nil, nil, 0, "mean") end, { x, t }, { grad = true })
      both(function(a, y, w) return luann._cross_entropy(a, y, w, 2, 0.1, "sum") end, { x, t, randn({ 5 }):abs() }, { grad = true })
      both(function(a, y) return luann._cross_entropy(a, y, nil, nil, 0, "none") end, { x, luann.softmax(randn({ 6, 5 }), 2) }, { grad = true })
      both(function(a, y) return luann._nll_loss(luann.log_softmax(a, 2), y, nil, nil, "mean") end, { x, t }, { grad = true })
      -- without class weights one kernel does it (core/op_loss.c, kernels/loss.cl)
      both(function(a, y) return luann._cross_entropy(a, y, nil, 3, 0.2, "none") end, { x, t }, { grad = true })
      both(function(a, y) return luann._cross_entropy(a, y, nil, nil, 0, "sum") end, { x:double(), t }, { grad = true })
      -- targets kept on the device: label smoothing's coefficients made without reading them
      both(function(a, y) return luann._cross_entropy(a, y, nil, nil, 0.1, "mean") end, { x, t }, { grad = true })
      both(function(a, y) return luann._cross_entropy(a, y, nil, nil, 0.3, "none") end, { x, t }, { grad = true })
    end)

    it("keeps class targets on the device, and reports one out of range with the CPU's message", function()
      -- the kernel checks the targets (no read back in the step); the error
      -- comes with the next read, as an index error does
      local x = randn({ 4, 3 }):to(GPU)
      x.requires_grad = true
      for _, case in ipairs({ { 4, "target 4 is out of range for 3 classes" },
          { 0, "target 0 is out of range for 3 classes (class indices are 1-based in luann" } }) do
        local y = luann.tensor({ 1, 2, case[1], 3 }, { dtype = "int64", device = GPU })
        local ok, err = pcall(function()
          local loss = luann._cross_entropy(x, y, nil, nil, 0, "mean")
          loss:backward()
          return loss:item()
        end)
        assert.is_false(ok)
        assert.matches("cross_entropy: " .. case[2], err, 1, true)
      end
      -- the flag was cleared, and a good batch computes as on the CPU
      local y = luann.tensor({ 1, 2, 3, 3 }, { dtype = "int64" })
      local want = luann._cross_entropy(x:cpu(), y, nil, nil, 0, "mean"):item()
      local got = luann._cross_entropy(x, y:to(GPU), nil, nil, 0, "mean"):item()
      assert.is_true(math.abs(want - got) < 1e-5)
    end)

    it("take fused optimizer steps bit for bit like the CPU", function()
      for _, dt in ipairs({ "float32", "float64" }) do
        local p, g = randn({ 1000 }, dt), randn({ 1000 }, dt)
        local s1, s2, s3 = randn({ 1000 }, dt), randn({ 1000 }, dt):abs(), randn({ 1000 }, dt):abs()
        both(function(P, G, B)
          luann._sgd_step(P, G, B, { lr = 0.1, momentum = 0.9, weight_decay = 0.01, nesterov = true })
          luann._sgd_step(P, G, B, { lr = 0.1, momentum = 0.8, dampening = 0.2, first_step = true })
          luann._sgd_step(P, G, nil, { lr = 0.05 })
          return P, B
        end, { p, g, s1 }, { tol = EXACT })
        both(function(P, G, M, V, VM)
          luann._adam_step(P, G, M, V, VM, { lr = 0.01, beta1 = 0.9, beta2 = 0.99, eps = 1e-8, weight_decay = 0.1,
            step = 3, decoupled = true, amsgrad = true })
          return P, M, V, VM
        end, { p, g, s1, s2, s3 }, { tol = EXACT })
        both(function(P, G, S, B, GA)
          luann._rmsprop_step(P, G, S, B, GA, { lr = 0.01, alpha = 0.9, eps = 1e-8, weight_decay = 0.1, momentum = 0.5, centered = true })
          return P, S, B, GA
        end, { p, g, s2, s1, s3 }, { tol = EXACT })
        both(function(P, G, S)
          luann._adagrad_step(P, G, S, { lr = 0.1, lr_decay = 0.01, weight_decay = 0.1, eps = 1e-10, step = 4 })
          return P, S
        end, { p, g, s2 }, { tol = EXACT })
      end
    end)

    it("train a small MLP to the same losses on both devices", function()
      local nn, optim = luann.nn, luann.optim
      local X, Y = randn({ 64, 20 }), luann.randint(1, 5, { 64 }, { dtype = "int64" })
      local losses = {}
      for _, dev in ipairs({ "cpu", GPU }) do
        luann.manual_seed(11)
        local model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4)):to(dev)
        local opt = optim.Adam(model:parameters(), { lr = 0.01 })
        local loss_fn = nn.CrossEntropyLoss()
        local x, y = X:to(dev), Y:to(dev)
        losses[dev] = {}
        for step = 1, 8 do
          opt:zero_grad()
          local loss = loss_fn(model(x), y)
          loss:backward()
          opt:step()
          losses[dev][step] = loss:item()
        end
      end
      for step = 1, 8 do
        assert.is_true(math.abs(losses.cpu[step] - losses[GPU][step]) < 1e-4,
          string.format("step %d: cpu %.7f, opencl %.7f", step, losses.cpu[step], losses[GPU][step]))
      end
      assert.is_true(losses[GPU][8] < losses[GPU][1])
    end)
    it("train with dropout, every optimizer and clip_grad_norm_, and save from the device", function()
      local nn, optim = luann.nn, luann.optim
      local X, Y = randn({ 32, 10 }), luann.rand(32, 1):gt(0.5):float()
      local runs = {}
      for _, dev in ipairs({ "cpu", GPU }) do
        luann.manual_seed(5)
        local model = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 1),
          nn.Sigmoid()):to(dev)
        local x, y = X:to(dev), Y:to(dev)
        local r = {}
        for _, o in ipairs({ { optim.SGD, { lr = 0.1, momentum = 0.9, nesterov = true } },
          { optim.AdamW, { lr = 0.01 } }, { optim.RMSprop, { lr = 0.01, centered = true, momentum = 0.5 } },
          { optim.Adagrad, { lr = 0.1 } } }) do
          local opt = o[1](model:parameters(), o[2])
          for _ = 1, 3 do
            opt:zero_grad()
            local out = model(x)
            local loss = nn.BCELoss()(out, y) + nn.MSELoss()(out, y) * 0.1
            loss:backward()
            nn.utils.clip_grad_norm_(model:parameters(), 0.5)
            opt:step()
            r[#r + 1] = loss:item()
          end
        end
        local path = os.tmpname()
        luann.save(path, model:state_dict())
        local sd = luann.load(path)
        os.remove(path)
        r[#r + 1] = sd["1.weight"]:sum():item()
        runs[dev] = r
      end
      for i, v in ipairs(runs.cpu) do
        assert.is_true(math.abs(v - runs[GPU][i]) < 1e-4,
          string.format("value %d: cpu %.7f, opencl %.7f", i, v, runs[GPU][i]))
      end
    end)
  end)

  describe("without a platform #opencl", function()
    local build = os.getenv("LUANN_BUILD") or "build"

    -- Runs Lua code in a fresh process with env settings; returns its
    -- output and whether it succeeded.
    local function run(env, code)
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(string.format("package.cpath = %q .. '/?.so;' .. package.cpath\n", build))
      f:write("package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path\n")
      f:write(code)
      f:close()
      local lua = "lua5.4" -- the interpreter running these specs, when known
      for i = -1, -10, -1 do
        if arg and arg[i] then lua = arg[i] else break end
      end
      local p = io.popen(env .. " " .. lua .. " " .. script .. " 2>&1")
      local out = p:read("a")
      local ok = p:close()
      os.remove(script)
      return out, ok
    end

    it("keeps the CPU working and says plainly that no device was found", function()
      local empty = os.tmpname()
      os.remove(empty)
      assert(os.execute("mkdir -p " .. empty))
      local out, ok = run("OCL_ICD_VENDORS=" .. empty, [[
        local luann = require "luann"
        print("devices", #luann.opencl.devices(), luann.opencl.is_available())
        print("cpu", (luann.ones(3) * 2):sum():item())
        local ok, err = pcall(luann.device, "opencl")
        print("device", ok, err)
        ok, err = pcall(function() return luann.ones(2):to("opencl") end)
        print("to", ok, err)
      ]])
      os.execute("rmdir " .. empty)
      assert.is_true(ok, out)
      assert.matches("devices\t0\tfalse", out, 1, true)
      assert.matches("cpu\t6.0", out, 1, true)
      assert.matches("device\tfalse\tno OpenCL device found", out, 1, true)
      assert.matches("to\tfalse\t[^\n]*no OpenCL device found", out)
    end)

    it("takes the default device from LUANN_DEVICE", function()
      local out, ok = run("LUANN_DEVICE=opencl", [[
        local luann = require "luann"
        print(luann.zeros(2).device, luann.get_default_device())
      ]])
      assert.is_true(ok, out)
      assert.matches("opencl:0\topencl:0", out, 1, true)
      out, ok = run("LUANN_DEVICE=tpu", [[require "luann"]])
      assert.is_false(not not ok)
      assert.matches("LUANN_DEVICE: unknown device 'tpu'", out, 1, true)
    end)
  end)
end)
