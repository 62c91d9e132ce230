-- Elementwise ops: values against float64 references computed here in Lua,
-- broadcasting, strided operands, dtype promotion, in-place variants,
-- error messages, and a finite-difference check of every gradient.
local luann = require "luann"

local F32, F64 = { dtype = "float32" }, { dtype = "float64" }

local helpers = require "helpers"
local flat, values, is_nan = helpers.flat, helpers.values, helpers.is_nan

-- An int64 tensor holding exactly these Lua integers (built by exact
-- in-place adds, not through doubles).
local function int64s(list)
  local t = luann.zeros(#list, { dtype = "int64" })
  for i, v in ipairs(list) do t:narrow(1, i, 1):add_(v) end
  return t
end

-- Every element of t within atol + rtol * |ref| of ref (NaN matches NaN).
local function assert_close(t, ref, rtol, atol)
  helpers.assert_close(t, ref, rtol or 1e-6, atol or 1e-7)
end

local map = helpers.map

-- Inputs exactly representable in float32, away from every kink.
local XS = { -2.5, -1, -0.25, 0, 0.5, 1.75, 3 }
local POS = { 0.25, 0.5, 1, 1.75, 3, 10 }

local function sigmoid(x) return 1 / (1 + math.exp(-x)) end
local function round_even(x)
  local f = math.floor(x)
  local d = x - f
  if d ~= 0.5 then return math.floor(x + 0.5) end
  return f % 2 == 0 and f or f + 1
end
local function sign(x) return x > 0 and 1 or x < 0 and -1 or 0 end
local function log1p(x) return math.log(1 + x) end
-- erf(x) = 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1) / (1*3*...*(2n+1)): all
-- terms positive, so no cancellation (Lua has no math.erf)
local function erf(x)
  local term, sum, n = x, x, 0
  while math.abs(term) > 1e-17 * math.abs(sum) do
    n = n + 1
    term = term * 2 * x * x / (2 * n + 1)
    sum = sum + term
  end
  return 2 / math.sqrt(math.pi) * math.exp(-x * x) * sum
end
-- Inputs inside asin's and acos's domain.
local UNIT = { -1, -0.75, -0.25, 0, 0.5, 0.875, 1 }

local UNARY = {
  neg = { function(x) return -x end, XS },
  abs = { math.abs, XS },
  exp = { math.exp, XS },
  log = { math.log, POS },
  sqrt = { math.sqrt, POS },
  rsqrt = { function(x) return 1 / math.sqrt(x) end, POS },
  sin = { math.sin, XS },
  cos = { math.cos, XS },
  tanh = { function(x) return (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1) end, XS },
  sigmoid = { sigmoid, XS },
  relu = { function(x) return math.max(x, 0) end, XS },
  sign = { sign, XS },
  floor = { math.floor, XS },
  ceil = { math.ceil, XS },
  round = { round_even, { -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 1.75, -0.25 } },
  reciprocal = { function(x) return 1 / x end, POS },
  square = { function(x) return x * x end, XS },
  log1p = { log1p, POS },
  expm1 = { function(x) return math.exp(x) - 1 end, XS },
  silu = { function(x) return x * sigmoid(x) end, XS },
  erf = { erf, XS },
  tan = { math.tan, XS },
  asin = { math.asin, UNIT },
  acos = { math.acos, UNIT },
  atan = { math.atan, XS },
}
-- gelu(x) = x Phi(x), from Python's math.erf at XS
local GELU = { -0.015524163314440398, -0.15865525393145707, -0.10032341857926907,
               0.0, 0.34573123063700656, 1.67989647548832, 2.99595030590511 }

describe("luann pointwise", function()
  describe("unary ops", function()
    it("match float64 references in float32 and float64", function()
      for name, case in pairs(UNARY) do
        local f, xs = case[1], case[2]
        for _, opts in ipairs({ F32, F64 }) do
          local x = luann.tensor(xs, opts)
          local y = luann[name](x)
          assert.are.equal(opts.dtype, y.dtype, name)
          local ok, err = pcall(assert_close, y, map(xs, f), opts == F32 and 2e-6 or 1e-12,
                                opts == F32 and 1e-7 or 1e-15)
          assert(ok, name .. " " .. opts.dtype .. ": " .. tostring(err))
          assert_close(x[name](x), map(xs, f), 2e-6, 1e-7) -- the method form
        end
      end
      assert_close(luann.tensor(XS):gelu(), GELU, 2e-6, 1e-7)
      assert_close(luann.tensor(XS, F64):gelu(), GELU, 1e-14, 1e-16)
    end)

    it("has an erf reference that matches published values", function()
      -- erf at 0.5, 1, 2, 3 (Abramowitz and Stegun table 7.1, to 16 digits)
      local ref = { [0.5] = 0.5204998778130465, [1] = 0.8427007929497149,
                    [2] = 0.9953222650189527, [3] = 0.9999779095030014 }
      for x, v in pairs(ref) do
        assert.is_true(math.abs(erf(x) - v) <= 1e-15, "erf(" .. x .. ")")
        assert.is_true(math.abs(erf(-x) + v) <= 1e-15, "erf(" .. -x .. ")")
      end
    end)

    it("read transposed and sliced views", function()
      local base = luann.tensor({ { 1, 2, 3, 4 }, { 5, 6, 7, 8 }, { 9, 10, 11, 12 } }, F64)
      local tv = base:t() -- (4,3), strides (1,4)
      local ref = map(values(tv), math.exp)
      assert_close(tv:exp(), ref, 1e-14)
      assert.are.same({ 4, 3 }, tv:exp().shape)
      local sl = base:narrow(2, 2, 2):t() -- (2,3) of columns 2 and 3
      assert.are.same({ 2, 6, 10, 3, 7, 11 }, values(sl:neg():neg()))
      assert_close(sl:sqrt(), map({ 2, 6, 10, 3, 7, 11 }, math.sqrt), 1e-14)
      -- a float32 strided row (general path) agrees with the contiguous one
      local m = luann.linspace(-3, 3, 40):view(8, 5)
      for _, name in ipairs({ "exp", "tanh", "sigmoid", "gelu", "relu", "square" }) do
        assert.are.same(values(m:t():contiguous()[name](m:t():contiguous())),
                        values(m:t()[name](m:t())))
      end
    end)

    it("turn integer and bool inputs into float32 for float ops", function()
      local i = luann.tensor({ 1, 4, 9 }, { dtype = "int64" })
      local r = i:sqrt()
      assert.are.equal("float32", r.dtype)
      assert.are.same({ 1, 2, 3 }, values(r))
      assert.are.equal("float32", luann.tensor({ 3, 250 }, { dtype = "uint8" }):exp().dtype)
      local b = luann.tensor({ true, false })
      assert.are.equal("float32", b:sigmoid().dtype)
      assert_close(b:sigmoid(), { sigmoid(1), 0.5 })
      assert.are.same({ 1, math.huge }, values(b:reciprocal()))
    end)

    it("keep integer dtypes for neg, abs, relu, sign, floor, ceil, round, square", function()
      local i = luann.tensor({ 3, -7, 0 }, { dtype = "int64" })
      for name, ref in pairs({ neg = { -3, 7, 0 }, abs = { 3, 7, 0 }, relu = { 3, 0, 0 },
                               sign = { 1, -1, 0 }, floor = { 3, -7, 0 },
                               ceil = { 3, -7, 0 }, round = { 3, -7, 0 },
                               square = { 9, 49, 0 } }) do
        local r = i[name](i)
        assert.are.equal("int64", r.dtype, name)
        assert.are.same(ref, values(r), name)
      end
      local u = luann.tensor({ 3, 250 }, { dtype = "uint8" })
      assert.are.same({ 253, 6 }, values(-u)) -- wraps like PyTorch
      assert.are.same({ 9, 36 }, values(u:square()))
      assert.are.equal("uint8", u:neg().dtype)
    end)

    it("keep int64 exact and wrap on overflow", function()
      local big = int64s({ 9007199254740993, math.mininteger })
      assert.are.same({ -9007199254740993, math.mininteger }, values(-big))
      assert.are.same({ 9007199254740993, math.mininteger }, values(big:abs()))
    end)

    it("treat bools as PyTorch does", function()
      local b = luann.tensor({ true, false })
      assert.has_error(function() return -b end,
        "neg: negation, the `-` operator, on a bool tensor is not supported; "
        .. "to invert a mask use logical_not()")
      assert.has_error(function() b:abs() end, "abs: not supported for bool tensors")
      assert.has_error(function() b:relu() end, "relu: not supported for bool tensors")
      assert.are.same({ true, false }, values(b:sign()))
      local sq = b:square()
      assert.are.equal("int64", sq.dtype)
      assert.are.same({ 1, 0 }, values(sq))
    end)

    it("propagate NaN and infinities", function()
      local x = luann.tensor({ 0 / 0, math.huge, -math.huge })
      local r = values(x:relu())
      assert.is_true(is_nan(r[1]))
      assert.are.same({ math.huge, 0 }, { r[2], r[3] })
      assert.is_true(is_nan(values(x:sign())[1]))
      assert.are.same({ 1, 0 }, { values(x:sigmoid())[2], values(x:sigmoid())[3] })
      assert.are.same({ 1, -1 }, { values(x:tanh())[2], values(x:tanh())[3] })
      local e = values(x:erf())
      assert.is_true(is_nan(e[1]))
      assert.are.same({ 1, -1 }, { e[2], e[3] })
      assert.are.same({ math.pi / 2, -math.pi / 2 },
                      { values(x:double():atan())[2], values(x:double():atan())[3] })
    end)

    it("give NaN for asin and acos outside [-1, 1]", function()
      for _, opts in ipairs({ F32, F64 }) do
        for _, name in ipairs({ "asin", "acos" }) do
          local x = luann.tensor({ 1.5, -1.0001, math.huge, 0 / 0 }, opts)
          for i, v in ipairs(values(x[name](x))) do assert.is_true(is_nan(v), name .. " " .. i) end
        end
      end
    end)

    it("isnan, isinf and isfinite give bool for every dtype", function()
      local cases = { isnan = { true, false, false, false, false },
                      isinf = { false, true, true, false, false },
                      isfinite = { false, false, false, true, true } }
      for name, ref in pairs(cases) do
        for _, opts in ipairs({ F32, F64 }) do
          local x = luann.tensor({ 0 / 0, math.huge, -math.huge, -2.5, 0 }, opts)
          local r = luann[name](x)
          assert.are.equal("bool", r.dtype, name)
          assert.are.same(ref, values(r), name)
          assert.are.same(ref, values(x[name](x)), name) -- the method form
          local v = x:narrow(1, 2, 3) -- a view at an offset
          assert.are.same({ ref[2], ref[3], ref[4] }, values(v[name](v)), name)
        end
        -- integers and bools are never NaN or infinite, as in PyTorch
        local want = name == "isfinite"
        for _, dt in ipairs({ "int64", "uint8", "bool" }) do
          local r = luann[name](luann.ones(3, { dtype = dt }))
          assert.are.equal("bool", r.dtype)
          assert.are.same({ want, want, want }, values(r), name .. " " .. dt)
        end
      end
    end)

    it("isnan, isinf and isfinite have no gradient", function()
      local x = luann.tensor({ 0 / 0, 1 }, { dtype = "float64", requires_grad = true })
      for _, name in ipairs({ "isnan", "isinf", "isfinite" }) do
        local r = x[name](x)
        assert.is_false(r.requires_grad, name)
        assert.is_nil(r.grad_fn, name)
      end
    end)

    it("logical_not gives bool for every dtype", function()
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8" }) do
        local r = luann.tensor({ 0, 2, 0 }, { dtype = dt }):logical_not()
        assert.are.equal("bool", r.dtype)
        assert.are.same({ true, false, true }, values(r))
      end
      assert.are.same({ false, true }, values(luann.tensor({ true, false }):logical_not()))
      assert.are.same({ false }, values(luann.tensor({ 0 / 0 }):logical_not()))
    end)

    it("handle 0-dim and empty tensors", function()
      local s = luann.tensor(4.0):sqrt()
      assert.are.same({}, s.shape)
      assert.are.equal(2, s:item())
      local e = luann.zeros(0, 3):exp()
      assert.are.same({ 0, 3 }, e.shape)
      assert.are.equal(0, e:numel())
    end)

    it("reject non-tensors", function()
      assert.has_error(function() luann.exp(2) end,
        "bad argument #1 to 'exp' (tensor expected, got number)")
    end)
  end)

  describe("binary ops", function()
    local A = { { 1.5, -2, 0.25 }, { 3, 0.5, -1 } }
    local B = { 2, -0.5, 4 }
    local refs = {
      add = function(a, b) return a + b end,
      sub = function(a, b) return a - b end,
      mul = function(a, b) return a * b end,
      div = function(a, b) return a / b end,
      maximum = math.max,
      minimum = math.min,
      fmod = math.fmod,
      atan2 = function(a, b) return math.atan(a, b) end,
      pow = function(a, b) return a ^ b end,
    }

    it("broadcast (2,3) with (3,) and match references in every float dtype", function()
      for name, f in pairs(refs) do
        for _, opts in ipairs({ F32, F64 }) do
          local a, b = luann.tensor(A, opts), luann.tensor(B, opts)
          local base = name == "pow" and a:abs() or a
          local ref = {}
          local av = base:tolist()
          for i = 1, 2 do
            for j = 1, 3 do ref[#ref + 1] = f(av[i][j], B[j]) end
          end
          local r = luann[name](base, b)
          assert.are.same({ 2, 3 }, r.shape)
          assert.are.equal(opts.dtype, r.dtype)
          local ok, err = pcall(assert_close, r, ref, opts == F32 and 2e-6 or 1e-14, 1e-7)
          assert(ok, name .. " " .. opts.dtype .. ": " .. tostring(err))
        end
      end
    end)

    it("broadcast (3,1) with (1,4) into (3,4)", function()
      local a = luann.tensor({ { 1 }, { 2 }, { 3 } }, F64)
      local b = luann.tensor({ { 10, 20, 30, 40 } }, F64)
      local r = a * b
      assert.are.same({ 3, 4 }, r.shape)
      assert.are.same({ { 10, 20, 30, 40 }, { 20, 40, 60, 80 }, { 30, 60, 90, 120 } },
                      r:tolist())
      local s = a - b:view(4) -- (3,1) - (4,) -> (3,4)
      assert.are.same({ -9, -19, -29, -39 }, s:tolist()[1])
    end)

    it("read transposed, sliced and expanded operands", function()
      local base = luann.arange(12, F32):view(3, 4)
      local bt = base:t() -- (4,3)
      local other = luann.arange(12, F32):view(4, 3)
      local r = bt + other
      local bv, ov, ref = bt:tolist(), other:tolist(), {}
      for i = 1, 4 do
        for j = 1, 3 do ref[#ref + 1] = bv[i][j] + ov[i][j] end
      end
      assert.are.same(ref, values(r))
      local cols = base:narrow(2, 2, 2) -- (3,2), row stride 4
      assert.are.same({ 1, 4, 25, 36, 81, 100 }, values(cols * cols))
      local ex = luann.tensor({ 1, 2, 3 }, F32):view(3, 1):expand(3, 4)
      assert.are.same({ { 1, 2, 3, 4 }, { 6, 7, 8, 9 }, { 11, 12, 13, 14 } },
                      (ex + base):tolist())
      -- a large strided float32 operand (parallel rows) agrees with its copy
      local big = luann.randn(300, 200)
      local t1 = big:t() * 2 + big:t()
      local t2 = big:t():contiguous() * 2 + big:t():contiguous()
      assert.are.same(values(t2), values(t1))
      -- a 3-d permutation, walked in memory order
      local p = luann.arange(24, F64):view(2, 3, 4):permute(3, 1, 2) -- (4,2,3)
      local pv, q = p:tolist(), {}
      for i = 1, 4 do
        for j = 1, 2 do
          for k = 1, 3 do q[#q + 1] = pv[i][j][k] * 2 - (i * 100 + j * 10 + k) end
        end
      end
      local idx = luann.tensor({ { { 111, 112, 113 }, { 121, 122, 123 } } }, F64)
        + luann.arange(0, 400, 100, F64):view(4, 1, 1)
      assert.are.same(q, values(p * 2 - idx))
    end)

    it("give a broadcast error naming the op and both shapes", function()
      assert.has_error(function() return luann.zeros(2, 3) + luann.zeros(4) end,
        "add: shapes (2,3) and (4,) cannot be broadcast")
      assert.has_error(function() luann.maximum(luann.zeros(2), luann.zeros(3, 1, 5)) end,
        "maximum: shapes (2,) and (3,1,5) cannot be broadcast")
    end)

    it("keep int64 arithmetic exact and wrapping", function()
      local big = 9007199254740993 -- 2^53 + 1: no double holds it
      local a = int64s({ big, math.maxinteger, -7, 7 })
      local b = luann.tensor({ 2, 1, 2, -2 }, { dtype = "int64" })
      assert.are.same({ big, math.maxinteger, -7, 7 }, values(a))
      assert.are.same({ big + 2, math.mininteger, -5, 5 }, values(a + b))
      assert.are.same({ big - 2, math.maxinteger - 1, -9, 9 }, values(a - b))
      assert.are.same({ big * 2, math.maxinteger, -14, -14 }, values(a * b))
      assert.are.same({ -2 }, values(int64s({ math.maxinteger }) * 2)) -- wraps
      assert.are.same({ 1, 0, -1, 1 }, values(luann.fmod(a, b))) -- C's truncation
      assert.are.same({ big + 1 }, values(int64s({ big }) + 1))
      assert.are.same({ 4611686018427387905 },
        values(luann.tensor({ 1 }, { dtype = "int64" }) + 4611686018427387904))
      assert.are.same({ 0 }, values(luann.fmod(int64s({ math.mininteger }), -1)))
    end)

    it("compute integer pow exactly, with PyTorch's rule for negative exponents", function()
      local a = luann.tensor({ 3, 2, 1, -1, 0, 2 }, { dtype = "int64" })
      local b = luann.tensor({ 39, -1, -5, -3, -1, 62 }, { dtype = "int64" })
      assert.are.same({ 4052555153018976267, 0, 1, -1, 0, 4611686018427387904 }, values(a ^ b))
      assert.has_error(function() return a ^ -2 end,
        "pow: integers to negative integer powers are not allowed")
      local twos = luann.tensor({ 2, 2, 2, 2 }, F32) -- float base: real powers
      assert.are.same({ 8, 4, 2, 0.5 }, values(twos ^ luann.tensor({ 3, 2, 1, -1 })))
      assert.are.same({ 2, 4, 8 }, values(2 ^ luann.tensor({ 1, 2, 3 }, { dtype = "int64" })))
    end)

    it("refuse integer fmod by zero before writing anything", function()
      local a = luann.tensor({ 5, 6 }, { dtype = "int64" })
      local divisors = luann.tensor({ 1, 0 }, { dtype = "int64" })
      assert.has_error(function() luann.fmod(a, divisors) end,
        "fmod: integer division by zero")
      assert.has_error(function() a:fmod_(0) end, "fmod: integer division by zero")
      assert.are.same({ 5, 6 }, values(a))
      local f = values(luann.fmod(luann.tensor({ 5.5 }), 0)) -- floats give NaN
      assert.is_true(is_nan(f[1]))
    end)

    it("divide integers into float32 (true division)", function()
      local a = luann.tensor({ 7, -7, 1, 0 }, { dtype = "int64" })
      local b = luann.tensor({ 2, 2, 0, 0 }, { dtype = "int64" })
      local r = a / b
      assert.are.equal("float32", r.dtype)
      local v = values(r)
      assert.are.same({ 3.5, -3.5, math.huge }, { v[1], v[2], v[3] })
      assert.is_true(is_nan(v[4]))
      assert.are.equal("float32", luann.atan2(a, b).dtype)
      assert.are.equal("float32", (luann.tensor({ true }) / luann.tensor({ true })).dtype)
    end)

    it("wrap uint8 and treat bool arithmetic as logic", function()
      local u = luann.tensor({ 3, 250 }, { dtype = "uint8" })
      assert.are.same({ 6, 244 }, values(u + u))
      assert.are.same({ 2, 249 }, values(u - 1))
      assert.are.same({ 47, 38 }, values(u + 300))
      assert.are.equal("uint8", (u * 2).dtype)
      local t, f = luann.tensor({ true, true, false }), luann.tensor({ true, false, false })
      assert.are.same({ true, true, false }, values(t + f))
      assert.are.same({ true, false, false }, values(t * f))
      assert.are.same({ true, true, false }, values(luann.maximum(t, f)))
      assert.are.same({ true, false, false }, values(luann.minimum(t, f)))
      assert.has_error(function() return t - f end,
        "sub: subtraction, the `-` operator, with two bool tensors is not supported; "
        .. "use logical_xor()")
      assert.has_error(function() return t ^ f end, "pow: not supported for bool tensors")
    end)

    it("promote dtypes as PyTorch does", function()
      local function dt(x) return x.dtype end
      local f32 = luann.tensor({ 1, 2 }, F32)
      local f64 = luann.tensor({ 1, 2 }, F64)
      local i64 = luann.tensor({ 1, 2 }, { dtype = "int64" })
      local u8 = luann.tensor({ 1, 2 }, { dtype = "uint8" })
      local b = luann.tensor({ true, false })
      assert.are.equal("float32", dt(i64 + f32))
      assert.are.equal("float64", dt(f32 + f64))
      assert.are.equal("int64", dt(u8 + i64))
      assert.are.equal("uint8", dt(b + u8))
      assert.are.equal("int64", dt(b + i64))
      -- 0-dim tensors decide only when their category is higher
      assert.are.equal("float32", dt(f32 + luann.tensor(5, F64)))
      assert.are.equal("float64", dt(i64 + luann.tensor(5, F64)))
      assert.are.equal("uint8", dt(u8 + luann.tensor(5, { dtype = "int64" })))
      assert.are.equal("float64", dt(luann.tensor(5, F64) + luann.tensor(1, F32)))
      -- numbers: integral ones are integers, others floats
      assert.are.equal("int64", dt(i64 + 2))
      assert.are.equal("int64", dt(i64 * 2.0))
      assert.are.equal("float32", dt(i64 * 2.5))
      assert.are.equal("int64", dt(b + 1))
      assert.are.equal("float32", dt(b + 1.5))
      assert.are.equal("uint8", dt(3 * u8))
      assert.are.equal("float32", dt(f32 * 0.1))
      -- a float64 tensor keeps the number's full precision
      assert.are.same({ 0.1 }, values(luann.tensor({ 0 }, F64) + 0.1))
      assert.are.same({ 0.1 + 1e-9 }, values(luann.tensor({ 1e-9 }, F64) + 0.1))
    end)

    it("take numbers on either side, and Lua operators", function()
      local x = luann.tensor({ 1, 2, 4 }, F32)
      assert.are.same({ 0, -1, -3 }, values(1 - x))
      assert.are.same({ 2, 1, 0.5 }, values(2 / x))
      assert.are.same({ 2, 4, 16 }, values(2 ^ x))
      assert.are.same({ 1, 4, 16 }, values(x ^ 2))
      assert.are.same({ -1, -2, -4 }, values(-x))
      assert.are.same({ 3, 6, 12 }, values(x * 3))
      assert.are.same({ 0.5, 1, 2 }, values(x / 2))
      assert.are.same({ 2, 4, 8 }, values(x + x))
      assert.are.same({ 1, 2, 4 }, values(luann.mul(x, 1)))
      assert.are.same({ false, true, true }, values(luann.ge(x, 2)))
      assert.are.same({ true, false, false }, values(luann.gt(2, x)))
      assert.are.same({ true, true, false }, values(x:logical_and(luann.tensor({ 5, -1, 0 }))))
      assert.has_error(function() luann.add(x, "1") end,
        "bad argument #2 to 'add' (tensor or number expected, got string)")
      assert.has_error(function() luann.add(1, 2) end,
        "bad argument #1 to 'add' (tensor expected, got number)")
      assert.are.same({ 1, 2, 4 }, values(luann.mul(x, true))) -- a boolean operand
      local z = luann.zeros(2)
      do local closed <close> = z end
      assert.has_error(function() luann.add(1, z) end,
        "bad argument #2 to 'add' (tensor is closed)")
      assert.has_error(function() luann.where(luann.tensor({ true }), "a", 1) end,
        "bad argument #2 to 'where' (tensor or number expected, got string)")
    end)

    it("support alpha in add and sub", function()
      local a = luann.tensor({ 1, 2 })
      local b = luann.tensor({ 10, 20 })
      assert.are.same({ 21, 42 }, values(luann.add(a, b, 2)))
      assert.are.same({ -19, -38 }, values(a:sub(b, 2)))
      assert.are.same({ 7, 8 }, values(luann.add(a, 2, 3)))
      assert.are.same({ 8, 6 }, values(luann.sub(10, a, 2)))
      local i = luann.tensor({ 1, 2 }, { dtype = "int64" })
      assert.are.same({ 4, 8 }, values(luann.add(i, i, 3)))
      assert.has_error(function() luann.add(i, i, 0.5) end,
        "add: for integral input tensors, argument alpha must not be a floating point number")
    end)

    it("compare into bool, with NaN unequal to everything", function()
      local a = luann.tensor({ 1, 2, 0 / 0 })
      local b = luann.tensor({ 2, 2, 0 / 0 })
      local expect = {
        eq = { false, true, false }, ne = { true, false, true },
        lt = { true, false, false }, le = { true, true, false },
        gt = { false, false, false }, ge = { false, true, false },
      }
      for name, ref in pairs(expect) do
        local r = luann[name](a, b)
        assert.are.equal("bool", r.dtype)
        assert.are.same(ref, values(r), name)
      end
      -- integers compare exactly, across dtypes
      local big = int64s({ 9007199254740993 })
      assert.are.same({ false }, values(big:eq(int64s({ 9007199254740992 }))))
      assert.are.same({ true }, values(big:gt(9007199254740992)))
      local u8 = luann.tensor({ 3, 250 }, { dtype = "uint8" })
      assert.are.same({ true, false }, values(u8:lt(luann.tensor({ 4, 7 }, { dtype = "int64" }))))
      local x = luann.tensor({ 0, 1, 2, 0 }, F64)
      local y = luann.tensor({ 0, 0, 3, 5 }, { dtype = "int64" })
      assert.are.same({ false, false, true, false }, values(luann.logical_and(x, y)))
      assert.are.same({ false, true, true, true }, values(luann.logical_or(x, y)))
      assert.are.same({ false, true, false, true }, values(luann.logical_xor(x, y)))
    end)

    it("propagate NaN through maximum and minimum", function()
      local a = luann.tensor({ 0 / 0, 1, 2 })
      local b = luann.tensor({ 1, 0 / 0, 1 })
      local mx, mn = values(luann.maximum(a, b)), values(luann.minimum(a, b))
      assert.is_true(is_nan(mx[1]) and is_nan(mx[2]) and is_nan(mn[1]) and is_nan(mn[2]))
      assert.are.same({ 2, 1 }, { mx[3], mn[3] })
    end)

    it("handle 0-dim and empty operands", function()
      local s = luann.tensor(3.0) * luann.tensor(4.0)
      assert.are.same({}, s.shape)
      assert.are.equal(12, s:item())
      local e = luann.zeros(0, 3) + luann.ones(3)
      assert.are.same({ 0, 3 }, e.shape)
      local z = luann.zeros(2, 0) * luann.ones(1, 1)
      assert.are.same({ 2, 0 }, z.shape)
      assert.are.same({ 5, 6 }, values(luann.tensor({ 1, 2 }) + luann.tensor(4)))
    end)
  end)

  describe("clamp", function()
    it("bounds values, either bound optional", function()
      local x = luann.tensor({ -3, -1, 0, 2, 5 })
      assert.are.same({ -1, -1, 0, 2, 2 }, values(x:clamp(-1, 2)))
      assert.are.same({ 0, 0, 0, 2, 5 }, values(x:clamp(0)))
      assert.are.same({ -3, -1, 0, 1, 1 }, values(luann.clamp(x, nil, 1)))
      assert.are.same({ 1, 1, 1, 1, 1 }, values(x:clamp(3, 1))) -- min > max: max wins
      assert.has_error(function() x:clamp() end,
        "clamp: at least one of min and max must be given")
    end)

    it("keeps NaN, handles views and promotes integers with fractional bounds", function()
      local r = values(luann.tensor({ 0 / 0, 7 }, F64):clamp(0, 1))
      assert.is_true(is_nan(r[1]))
      assert.are.equal(1, r[2])
      local m = luann.arange(6, F32):view(2, 3):t()
      assert.are.same({ { 1, 3 }, { 1, 4 }, { 2, 4 } }, m:clamp(1, 4):tolist())
      local i = luann.tensor({ 1, 5, 9 }, { dtype = "int64" })
      assert.are.equal("int64", i:clamp(2, 6).dtype)
      assert.are.same({ 2, 5, 6 }, values(i:clamp(2, 6)))
      local f = i:clamp(1.5, 6.5)
      assert.are.equal("float32", f.dtype)
      assert.are.same({ 1.5, 5, 6.5 }, values(f))
      local u8 = luann.tensor({ 3, 250 }, { dtype = "uint8" })
      assert.are.same({ 3, 200 }, values(u8:clamp(-5, 200)))
      assert.has_error(function() luann.tensor({ true }):clamp(0, 1) end,
        "clamp: not supported for bool tensors")
    end)
  end)

  describe("leaky_relu", function()
    it("scales negatives by the slope (default 0.01)", function()
      local x = luann.tensor({ -2, 0, 3 }, F64)
      assert.are.same({ -0.02, 0, 3 }, values(x:leaky_relu()))
      assert.are.same({ -0.5, 0, 3 }, values(luann.leaky_relu(x, 0.25)))
      assert.has_error(function() luann.tensor({ 1 }, { dtype = "int64" }):leaky_relu() end,
        "leaky_relu: expected a floating point tensor, got int64")
    end)
  end)

  describe("where", function()
    it("picks from a or b, broadcasting all three", function()
      local cond = luann.tensor({ true, false, true })
      local a = luann.tensor({ { 1 }, { 2 } })          -- (2,1)
      local b = luann.tensor({ 10, 20, 30 })            -- (3,)
      local r = luann.where(cond, a, b)
      assert.are.same({ 2, 3 }, r.shape)
      assert.are.same({ { 1, 20, 1 }, { 2, 20, 2 } }, r:tolist())
      assert.are.same({ 1, 20, 1 }, values(luann.tensor({ 1, 2, 1 }):where(cond, b)))
      assert.are.same({ 10, 0.5, 30 }, values(luann.where(cond:logical_not(), 0.5, b)))
    end)

    it("takes numbers and promotes dtypes", function()
      local cond = luann.tensor({ true, false })
      local r = luann.where(cond, 1, 0)
      assert.are.equal("int64", r.dtype)
      assert.are.same({ 1, 0 }, values(r))
      assert.are.equal("float32", luann.where(cond, 1.5, 0).dtype)
      local i = luann.tensor({ 1, 2 }, { dtype = "int64" })
      assert.are.equal("float32", luann.where(cond, i, 0.5).dtype)
      assert.are.equal("float64", luann.where(cond, i, luann.tensor({ 1, 2 }, F64)).dtype)
      assert.are.same({ 1, 0.25 }, values(luann.where(cond, luann.tensor({ 1, 2 }, F64), 0.25)))
    end)

    it("reads views and checks its condition", function()
      local m = luann.arange(6, F32):view(2, 3)
      local c = m:t():gt(2) -- (3,2) strided
      assert.are.same({ { 0, 3 }, { 0, 4 }, { 0, 5 } }, luann.where(c, m:t(), 0):tolist())
      assert.has_error(function() luann.where(luann.tensor({ 1, 0 }, F32), 1, 0) end,
        "where: expected the condition to be a bool tensor, got float32")
      local two = luann.tensor({ true, false })
      assert.has_error(function() luann.where(two, luann.zeros(3), 0) end,
        "where: shapes (2,) and (3,) cannot be broadcast")
    end)
  end)

  describe("in-place ops", function()
    it("write into the tensor and return it", function()
      local x = luann.tensor({ 1, 2, 3 }, F32)
      local r = x:add_(1)
      assert.are.equal(x, r)
      assert.are.same({ 2, 3, 4 }, values(x))
      x:mul_(luann.tensor({ 2, 2, 2 })):sub_(1):div_(2)
      assert.are.same({ 1.5, 2.5, 3.5 }, values(x))
      x:pow_(2)
      assert.are.same({ 2.25, 6.25, 12.25 }, values(x))
      x:sqrt_():neg_():abs_()
      assert.are.same({ 1.5, 2.5, 3.5 }, values(x))
      x:clamp_(2, 3)
      assert.are.same({ 2, 2.5, 3 }, values(x))
      x:add_(luann.tensor({ 1, 1, 1 }), 2):sub_(2, 3)
      assert.are.same({ -2, -1.5, -1 }, values(x))
      x:leaky_relu_(0.5):relu_()
      assert.are.same({ 0, 0, 0 }, values(x))
      local y = luann.tensor({ 0, 1 }, F64)
      y:exp_()
      assert_close(y, { 1, math.exp(1) }, 1e-15)
      y:log_():sigmoid_():tanh_()
      assert_close(y, { math.tanh(0.5), math.tanh(sigmoid(1)) }, 1e-15)
    end)

    it("write through transposed and sliced views into the base", function()
      local base = luann.arange(6, F64):view(2, 3)
      base:t():mul_(luann.tensor({ 10, 100 }, F64)) -- column scale of base^T
      assert.are.same({ { 0, 10, 20 }, { 300, 400, 500 } }, base:tolist())
      local col = base:narrow(2, 2, 1) -- (2,1) with stride 3
      col:add_(1)
      assert.are.same({ { 0, 11, 20 }, { 300, 401, 500 } }, base:tolist())
      base:narrow(2, 1, 2):t():exp_():log_()
      assert_close(base, { 0, 11, 20, 300, 401, 500 }, 1e-14, 1e-12)
    end)

    it("read an operand that overlaps the target correctly", function()
      local m = luann.arange(9, F64):view(3, 3)
      m:add_(m:t())
      assert.are.same({ { 0, 4, 8 }, { 4, 8, 12 }, { 8, 12, 16 } }, m:tolist())
      local v = luann.tensor({ 1, 2, 3, 4 })
      v:narrow(1, 2, 3):add_(v:narrow(1, 1, 3)) -- shifted window of itself
      assert.are.same({ 1, 3, 5, 7 }, values(v))
      v:mul_(v)
      assert.are.same({ 1, 9, 25, 49 }, values(v))
    end)

    it("cast into the tensor's dtype when PyTorch allows it", function()
      local f = luann.tensor({ 1.5, 2 })
      f:add_(luann.tensor({ 1, 2 }, { dtype = "int64" }))
      assert.are.same({ 2.5, 4 }, values(f))
      f:add_(luann.tensor({ 0.25, 0.25 }, F64))
      assert.are.equal("float32", f.dtype)
      local i = luann.tensor({ 3, 250 }, { dtype = "int64" })
      i:add_(luann.tensor({ 1, 1 }, { dtype = "uint8" }))
      assert.are.same({ 4, 251 }, values(i))
      local c = luann.tensor({ 1, 2, 3 }, F32)
      c:eq_(2)
      assert.are.same({ 0, 1, 0 }, values(c))
      local b = luann.tensor({ true, false })
      b:logical_not_()
      assert.are.same({ false, true }, values(b))
      b:add_(luann.tensor({ true, true }))
      assert.are.same({ true, true }, values(b))
    end)

    it("refuse results the tensor cannot hold", function()
      local i = luann.tensor({ 1, 2 }, { dtype = "int64" })
      assert.has_error(function() i:add_(luann.tensor({ 0.5, 1 })) end,
        "add_: result type Float can't be cast to the desired output type Long")
      assert.has_error(function() i:div_(2) end,
        "div_: result type Float can't be cast to the desired output type Long")
      assert.has_error(function() i:add_(0.5) end,
        "add_: result type Float can't be cast to the desired output type Long")
      assert.has_error(function() i:exp_() end,
        "exp_: result type Float can't be cast to the desired output type Long")
      assert.has_error(function() luann.tensor({ true }):add_(1) end,
        "add_: result type Long can't be cast to the desired output type Bool")
      assert.are.same({ 1, 2 }, values(i))
    end)

    it("refuse shapes that do not match and expanded targets", function()
      assert.has_error(function() luann.zeros(3):add_(luann.zeros(2, 3)) end,
        "add_: output with shape (3,) doesn't match the broadcast shape (2,3)")
      assert.has_error(function() luann.zeros(3):mul_(luann.zeros(4)) end,
        "mul_: shapes (3,) and (4,) cannot be broadcast")
      assert.has_error(function() luann.zeros(1):expand(3):add_(1) end,
        "add_: more than one element of the written-to tensor refers to a single "
        .. "memory location; clone() it first")
    end)

    it("refuse leaves that require grad", function()
      local x = luann.tensor({ 1, 2 }, { dtype = "float64", requires_grad = true })
      assert.has_error(function() x:add_(1) end,
        "a leaf tensor that requires grad is used in an in-place operation "
        .. "(wrap it in luann.no_grad, or use detach)")
      luann.no_grad(function() x:mul_(2) end)()
      assert.are.same({ 2, 4 }, values(x))
    end)

    it("catch a saved tensor modified in place", function()
      local x = luann.tensor({ 0.5, 1 }, { dtype = "float64", requires_grad = true })
      local y = x:exp()
      local z = y * 1
      y:add_(1)
      assert.has_error(function() z:backward(luann.ones(2, F64)) end,
        "ExpBackward: a tensor needed for gradient computation has been modified by an "
        .. "in-place operation (version 1, expected 0)")
    end)
  end)

  describe("gradients", function()
    local gradcheck = luann.autograd.gradcheck
    local function leaf(list)
      return luann.tensor(list, { dtype = "float64", requires_grad = true })
    end
    local X = { { 0.7, -1.3, 2.1 }, { 0.4, -0.6, 1.2 } }
    local P = { { 0.7, 1.3, 2.1 }, { 0.4, 0.6, 1.2 } }

    -- relu's backward is one kernel (core/op_pointwise.c): where(y > 0, g, 0)
    it("of relu pass g where the output is positive and 0 elsewhere, whatever g holds", function()
      for _, dt in ipairs({ "float32", "float64" }) do
        local x = luann.tensor({ 2, -1, 0, 3, -0.0, 0 / 0, 1e-30, -5 }, { dtype = dt, requires_grad = true })
        local g = luann.tensor({ 0 / 0, 1 / 0, -1 / 0, 4, 5, 6, 7, 0 / 0 }, { dtype = dt })
        x:relu():backward(g)
        local got = x.grad:tolist()
        local want = { 0 / 0, 0, 0, 4, 0, 0, 7, 0 }
        for i, w in ipairs(want) do
          assert.is_true(got[i] == w or (w ~= w and got[i] ~= got[i]), dt .. " element " .. i)
        end
        local big = luann.randn(1000, 33, { dtype = dt }):requires_grad_() -- vector loops and their tails
        local gb = luann.randn(1000, 33, { dtype = dt })
        big:relu():backward(gb)
        assert.is_true(luann.allclose(big.grad, luann.where(big:gt(0), gb, luann.zeros_like(gb)), 0, 0))
      end
    end)

    it("of every differentiable unary op", function()
      local ops = { "neg", "abs", "exp", "sin", "cos", "tanh", "sigmoid", "relu", "square",
                    "expm1", "gelu", "silu", "erf", "tan", "atan" }
      for _, name in ipairs(ops) do
        local ok, err = pcall(gradcheck, function(x) return x[name](x) end, { leaf(X) })
        assert(ok, name .. ": " .. tostring(err))
      end
      for _, name in ipairs({ "log", "sqrt", "rsqrt", "reciprocal", "log1p" }) do
        assert.is_true(gradcheck(function(x) return x[name](x) end, { leaf(P) }), name)
      end
      for _, name in ipairs({ "asin", "acos" }) do -- inside (-1, 1)
        assert.is_true(gradcheck(function(x) return x[name](x) end,
                                 { leaf({ { 0.7, -0.3, 0.05 }, { 0.4, -0.6, 0.9 } }) }), name)
      end
      -- gelu near 0 and far out, where Phi is recovered from the forward
      assert.is_true(gradcheck(function(x) return x:gelu() end,
                               { leaf({ 1e-25, -1e-8, 1e-3, -6, 8, 0 }) }))
    end)

    it("of ops with zero derivative", function()
      for _, name in ipairs({ "sign", "floor", "ceil", "round" }) do
        local x = leaf({ 0.3, -1.7 })
        local y = x[name](x)
        assert.are.equal(name:sub(1, 1):upper() .. name:sub(2) .. "Backward", y.grad_fn)
        y:backward(luann.ones(2, F64))
        assert.are.same({ 0, 0 }, values(x.grad))
      end
    end)

    it("of every differentiable binary op, w.r.t. both operands, broadcast", function()
      local B = { 1.1, -0.8, 0.6 }
      for _, name in ipairs({ "add", "sub", "mul", "div", "maximum", "minimum", "atan2" }) do
        local ok, err = pcall(gradcheck, function(a, b) return luann[name](a, b) end,
                              { leaf(X), leaf(B) })
        assert(ok, name .. ": " .. tostring(err))
      end
      assert.is_true(gradcheck(function(a, b) return luann.pow(a, b) end,
                               { leaf(P), leaf({ 1.5, -0.7, 2 }) }))
      assert.is_true(gradcheck(function(a, b) return luann.fmod(a, b) end,
                               { leaf({ { 5.3, -7.1, 2.2 } }), leaf({ { 2.1 }, { -1.6 } }) }))
      assert.is_true(gradcheck(function(a, b) return luann.add(a, b, 2.5) end,
                               { leaf(X), leaf(B) }))
      assert.is_true(gradcheck(function(a, b) return a:sub(b, -3) end,
                               { leaf(X), leaf(B) }))
    end)

    it("with numbers on either side", function()
      local cases = {
        function(x) return x * 2 + 1 end,
        function(x) return 2 / x end,
        function(x) return 1 - x end,
        function(x) return x ^ 3 end,
        function(x) return 2 ^ x end,
        function(x) return x:pow(0.5) end,
        function(x) return luann.maximum(x, 1) end,
        function(x) return luann.atan2(1, x) end,
      }
      for i, f in ipairs(cases) do
        local ok, err = pcall(gradcheck, f, { leaf(P) })
        assert(ok, "case " .. i .. ": " .. tostring(err))
      end
    end)

    it("of pow at a zero base, as PyTorch", function()
      local a = leaf({ 0, 0, 2 })
      local b = leaf({ 2, 0, 0 })
      local y = a ^ b
      y:backward(luann.ones(3, F64))
      assert.are.same({ 0, 0, 0 }, values(a.grad)) -- b == 0: 0; 0^2: 2*0
      assert.are.same({ 0, 0, math.log(2) }, values(b.grad))
    end)

    it("of maximum and minimum split evenly on ties", function()
      local a, b = leaf({ 1, 2, 3 }), leaf({ 1, 5, 0 })
      luann.maximum(a, b):backward(luann.ones(3, F64))
      assert.are.same({ 0.5, 0, 1 }, values(a.grad))
      assert.are.same({ 0.5, 1, 0 }, values(b.grad))
      a.grad, b.grad = nil, nil
      luann.minimum(a, b):backward(luann.ones(3, F64))
      assert.are.same({ 0.5, 1, 0 }, values(a.grad))
      assert.are.same({ 0.5, 0, 1 }, values(b.grad))
    end)

    it("of clamp, leaky_relu and where", function()
      assert.is_true(gradcheck(function(x) return x:clamp(-1, 1) end, { leaf(X) }))
      assert.is_true(gradcheck(function(x) return x:clamp(0) end, { leaf(X) }))
      assert.is_true(gradcheck(function(x) return x:clamp(nil, 0.5) end, { leaf(X) }))
      assert.is_true(gradcheck(function(x) return x:leaky_relu(0.2) end, { leaf(X) }))
      local cond = luann.tensor({ { true, false, true }, { false, true, false } })
      assert.is_true(gradcheck(function(a, b) return luann.where(cond, a, b) end,
                               { leaf(X), leaf({ 1.1, -0.8, 0.6 }) }))
      assert.is_true(gradcheck(function(a) return a:where(cond, 0) end, { leaf(X) }))
    end)

    it("through strided inputs", function()
      assert.is_true(gradcheck(function(x) return x:t():exp() * x:t():narrow(1, 1, 2):sin() end,
                               { leaf({ { 0.2, 0.5 }, { -0.3, 1.1 }, { 0.9, -0.4 } }) }))
    end)

    it("through in-place ops", function()
      local B = { 1.1, -0.8, 0.6 }
      local cases = {
        function(x) local y = x * 1; y:sin_(); return y end,
        function(x) local y = x * 1; y:exp_(); return y end,
        function(x) local y = x * 1; y:tanh_(); return y:sigmoid() end,
        function(x) local y = x * 1; y:mul_(y); return y end,
        function(x) local y = x * 1; y:pow_(2); return y end,
        function(x) local y = x * 1; y:clamp_(-1, 1); return y end,
        function(x) local y = x * 1; y:leaky_relu_(0.1); return y end,
        function(x, b) local y = x * 1; y:mul_(b); return y end,
        function(x, b) local y = x * 1; y:div_(b); return y end,
        function(x, b) local y = x * 1; y:add_(b, 3); return y end,
        function(x, b) local y = x * 1; y:sub_(b); y:relu_(); return y end,
        function(x, b) local y = b * 1; y:atan2_(x:select(1, 1)); return y end,
      }
      for i, f in ipairs(cases) do
        local ok, err = pcall(gradcheck, f, { leaf(X), leaf(B) })
        assert(ok, "case " .. i .. ": " .. tostring(err))
      end
      -- as in PyTorch, overwriting an output that backward needs is caught
      local t = leaf({ 0.5, -1 }) * 1
      t:tanh_()
      t:sigmoid_()
      assert.has_error(function() t:backward(luann.ones(2, F64)) end,
        "TanhBackward: a tensor needed for gradient computation has been modified by an "
        .. "in-place operation (version 2, expected 1)")
      local x = leaf({ 0.5, -1 })
      local y = x * 1
      y:gt_(0)
      assert.are.equal("GtBackward", y.grad_fn)
      y:backward(luann.ones(2, F64))
      assert.are.same({ 0, 0 }, values(x.grad))
    end)

    it("name their backward nodes", function()
      local x = leaf({ 1, 2 })
      assert.are.equal("MulBackward", (x * 2).grad_fn)
      assert.are.equal("ExpBackward", x:exp().grad_fn)
      local mask = luann.tensor({ true, false })
      assert.are.equal("WhereBackward", luann.where(mask, x, 0).grad_fn)
      assert.are.equal(nil, x:gt(1).grad_fn)
      local y = x * 1
      y:add_(1)
      assert.are.equal("AddBackward", y.grad_fn)
    end)
  end)
end)
