-- The habits a PyTorch user brings to tensors (issue 11), each meeting a
-- clear answer: comparison operators, // and %, equal/isclose/allclose,
-- t.shape, pairs(t), integral floats as integers, misspelled option keys,
-- PyTorch names luann spells otherwise, randint's half-open range.
-- References are hand-computed or Lua's own operators on numbers.
local luann = require "luann"
local helpers = require "helpers"
local values, err_of = helpers.values, helpers.err_of

local F64 = { dtype = "float64" }
local I64 = { dtype = "int64" }

describe("tensor habits", function()
  describe("comparison operators", function()
    local a, b = luann.tensor({ 1, 5 }), luann.tensor({ 2, 3 })
    local LT = "cannot compare tensors with < or >: Lua's operators must give one boolean; use the "
      .. "elementwise a:lt(b) or a:gt(b) (bool tensors), or luann.equal(a, b) to compare whole tensors"
    local LE = "cannot compare tensors with <= or >=: Lua's operators must give one boolean; use the "
      .. "elementwise a:le(b) or a:ge(b) (bool tensors), or luann.equal(a, b) to compare whole tensors"

    it("< and > raise, pointing at :lt and :gt", function()
      assert.equal(LT, err_of(function() return a < 3 end))
      assert.equal(LT, err_of(function() return 3 < a end))
      assert.equal(LT, err_of(function() return a < b end))
      assert.equal(LT, err_of(function() return a > b end))
    end)

    it("<= and >= raise, pointing at :le and :ge", function()
      assert.equal(LE, err_of(function() return a <= b end))
      assert.equal(LE, err_of(function() return a >= 2 end))
    end)

    it("the elementwise forms they point at give bool tensors", function()
      assert.same({ true, false }, a:lt(b):tolist())
      assert.same({ false, true }, a:gt(3):tolist())
      assert.same({ true, false }, a:le(1):tolist())
      assert.same({ false, true }, a:ge(b):tolist())
    end)

    it("== stays identity (Lua's == must give a boolean)", function()
      local c = a:clone()
      assert.is_true(a == a)
      assert.is_false(a == c) -- same values, another tensor: use luann.equal
      assert.is_true(a ~= nil and a ~= 1)
      local seen = { [a] = "a" }
      assert.equal("a", seen[a])
      assert.is_nil(seen[c])
      assert.same({ true, true }, a:eq(c):tolist())
    end)
  end)

  describe("luann.equal", function()
    it("is true for the same shape and values", function()
      local a = luann.tensor({ { 1, 2 }, { 3, 4 } })
      assert.is_true(luann.equal(a, a:clone()))
      assert.is_true(a:equal(luann.tensor({ { 1, 2 }, { 3, 4 } })))
      assert.is_true(luann.equal(luann.zeros(0, 3), luann.zeros(0, 3)))
    end)

    it("is false for other values or shapes, without broadcasting", function()
      local a = luann.tensor({ 1, 2 })
      assert.is_false(luann.equal(a, luann.tensor({ 1, 3 })))
      assert.is_false(luann.equal(a, luann.tensor({ { 1, 2 } })))
      assert.is_false(luann.equal(luann.tensor({ 1, 1 }), luann.tensor({ 1 })))
      assert.is_false(luann.equal(luann.tensor({ 0 / 0 }), luann.tensor({ 0 / 0 })))
    end)

    it("names a bad argument", function()
      assert.matches("bad argument #2 to '[%w.]*equal' %(tensor expected, got number%)",
        err_of(luann.equal, luann.tensor({ 1 }), 1))
    end)
  end)

  describe("luann.isclose", function()
    -- |a - b| <= atol + rtol |b|, worked by hand for rtol 1e-5, atol 1e-8:
    -- 1 vs 1 + 5e-6 (allowed 1.00001e-5): close; 1 vs 1 + 2e-5: not;
    -- 0 vs 5e-9 (allowed 1e-8): close; 0 vs 2e-8: not; inf vs inf: equal.
    it("follows torch's default tolerances", function()
      local a = luann.tensor({ 1, 1, 0, 0, math.huge, math.huge, 0 / 0 }, F64)
      local b = luann.tensor({ 1 + 5e-6, 1 + 2e-5, 5e-9, 2e-8, math.huge, -math.huge, 0 / 0 }, F64)
      assert.same({ true, false, true, false, true, false, false }, luann.isclose(a, b):tolist())
    end)

    it("takes rtol, atol and equal_nan positionally or in a table", function()
      local a = luann.tensor({ 1, 10, 0 / 0 }, F64)
      local b = luann.tensor({ 1.05, 10.5, 0 / 0 }, F64)
      -- rtol 0.01: allowed 0.0105 and 0.105 for differences 0.05 and 0.5
      assert.same({ false, false, false }, luann.isclose(a, b, 0.01):tolist())
      -- atol 0.1: 0.05 is close, 0.5 is not
      assert.same({ true, false, false }, luann.isclose(a, b, { rtol = 0, atol = 0.1 }):tolist())
      -- rtol 0.05: allowed 0.0525 and 0.525
      assert.same({ true, true, true }, a:isclose(b, 0.05, 0, true):tolist())
      assert.same({ true, true, true }, luann.isclose(a, b, { rtol = 0.05, equal_nan = true }):tolist())
    end)

    it("broadcasts, and takes a number", function()
      local a = luann.tensor({ { 1 }, { 2 } }, F64)
      local b = luann.tensor({ 1, 2 + 1e-9, 3 }, F64)
      assert.same({ { true, false, false }, { false, true, false } }, luann.isclose(a, b):tolist())
      assert.same({ { true }, { false } }, luann.isclose(a, 1):tolist())
    end)

    it("compares integers exactly", function()
      local big = luann.tensor({ math.maxinteger, 3 }, I64)
      assert.same({ true, false }, luann.isclose(big, luann.tensor({ math.maxinteger, 4 }, I64), 0, 0):tolist())
    end)

    it("refuses bad tolerances and option keys", function()
      local a = luann.tensor({ 1 })
      assert.equal("isclose: rtol and atol must be non-negative numbers, got rtol -1, atol 1e-08",
        err_of(luann.isclose, a, a, -1))
      assert.matches("unknown option 'rtl' %(did you mean 'rtol'%?%); known options: rtol, atol, equal_nan",
        err_of(luann.isclose, a, a, { rtl = 1 }))
    end)
  end)

  describe("luann.allclose", function()
    it("is whether isclose holds everywhere", function()
      local a = luann.tensor({ 1, 2, 3 }, F64)
      assert.is_true(luann.allclose(a, a + 5e-6))
      assert.is_false(luann.allclose(a, a + 1e-4))
      assert.is_true(luann.allclose(a, a + 1e-4, 1e-4))
      assert.is_true(luann.allclose(a, a + 1e-4, { atol = 1e-3 }))
      assert.is_true(a:allclose(a:float()))
      assert.is_true(luann.allclose(luann.zeros(0), luann.zeros(0)))
    end)

    it("broadcasts as torch does, and names shapes that do not", function()
      assert.is_true(luann.allclose(luann.ones(2, 3), luann.ones(3)))
      assert.is_true(luann.allclose(luann.full({ 2, 2 }, 7), 7))
      assert.matches("isclose: .*%(2,3%).*%(4,%)", err_of(luann.allclose, luann.ones(2, 3), luann.ones(4)))
    end)

    it("treats NaN as torch does", function()
      local n = luann.tensor({ 0 / 0, 1 })
      assert.is_false(luann.allclose(n, n))
      assert.is_true(luann.allclose(n, n, 1e-5, 1e-8, true))
    end)

    it("records no history", function()
      local x = luann.tensor({ 1, 2 }, { dtype = "float64", requires_grad = true })
      assert.is_nil(luann.isclose(x, x * 1).grad_fn)
      assert.is_true(luann.allclose(x, x * 1))
    end)
  end)

  describe("// and %", function()
    -- Lua's own floored operators on numbers are the reference.
    local A = { -7, 7, -7, 7, 0, 6, -6, 13, -13, 1 }
    local B = { 2, -3, 3, 3, 5, -4, 4, 5, -5, -7 }

    it("floor integers as Lua does", function()
      local a, b = luann.tensor(A, I64), luann.tensor(B, I64)
      local q, r = {}, {}
      for i = 1, #A do q[i], r[i] = A[i] // B[i], A[i] % B[i] end
      assert.same(q, (a // b):tolist())
      assert.same(r, (a % b):tolist())
      assert.same({ -4, 3, -4, 3, 0, 3, -3, 6, -7, 0 }, (a // 2):tolist())
      assert.equal(-4, (luann.tensor(-7) // 2):item()) -- -7 // 2 == -4
      assert.equal(2, (luann.tensor(-7) % 3):item()) -- -7 % 3 == 2
      assert.equal(-2, (luann.tensor(7) % -3):item()) -- 7 % -3 == -2
      assert.equal("int64", (a % b).dtype)
    end)

    it("take a number on the left", function()
      local b = luann.tensor(B, I64)
      local q, r = {}, {}
      for i = 1, #B do q[i], r[i] = 5 // B[i], 5 % B[i] end
      assert.same(q, (5 // b):tolist())
      assert.same(r, (5 % b):tolist())
    end)

    it("floor floats (remainder takes the divisor's sign)", function()
      local a = luann.tensor({ -7.5, 7.5, -7.5, 7.5, -7, 5.25 }, F64)
      local b = luann.tensor({ 2, -2, -2, 2, 2, 0.5 }, F64)
      assert.same({ -4, -4, 3, 3, -4, 10 }, (a // b):tolist())
      assert.same({ 0.5, -0.5, -1.5, 1.5, 1, 0.25 }, (a % b):tolist())
      for i, x in ipairs({ -7.5, 7.5, -7.5, 7.5, -7, 5.25 }) do
        local y = ({ 2, -2, -2, 2, 2, 0.5 })[i]
        assert.equal(x % y, (a % b)[i]) -- Lua's float %
      end
      assert.same({ 1.5, 1.5 }, (luann.tensor({ -7.5, 7.5 }) % 3):tolist())
      assert.same({ -2, -3 }, (luann.tensor({ 7, 9 }, F64) // -3.5 + 0):tolist())
      assert.same({ 1, 1 }, (5.5 // luann.tensor({ 3, 4.5 }, F64)):tolist())
    end)

    it("keep a == b * (a // b) + a % b where Lua's floor(a / b) rounds", function()
      local one = luann.tensor({ 1 }, F64)
      -- 1 / 0.1 rounds to 10, but 0.1 fits 9 times, leaving 0.1 - 5.6e-17
      assert.same({ 9 }, (one // 0.1):tolist())
      assert.equal(1 % 0.1, (one % 0.1):item())
    end)

    it("give inf and NaN for a float division by zero", function()
      local q = values(luann.tensor({ 1, -1, 0 }, F64) // 0)
      assert.same({ math.huge, -math.huge }, { q[1], q[2] })
      assert.is_true(helpers.is_nan(q[3]))
      assert.is_true(helpers.is_nan((luann.tensor({ 1.5 }) % 0):item()))
    end)

    it("make an integer division by zero a Lua error, not a crash", function()
      -- (an OpenCL device reports it when the values are next read)
      local a = luann.tensor({ 1, 2 }, I64)
      local z = luann.tensor({ 1, 0 }, I64)
      assert.equal("remainder: integer division by zero", err_of(function() return (a % z):tolist() end))
      assert.equal("floor_divide: integer division by zero", err_of(function() return (a // 0):tolist() end))
      assert.equal("floor_divide: integer division by zero", err_of(function() return (5 // z):tolist() end))
      assert.equal("remainder: integer division by zero", err_of(function() return a:remainder_(0):tolist() end))
      if a.device == "cpu" then assert.same({ 1, 2 }, a:tolist()) end -- nothing written
    end)

    it("wrap math.mininteger // -1 as Lua does", function()
      local m = luann.tensor({ math.mininteger }, I64)
      assert.same({ math.mininteger // -1 }, (m // -1):tolist())
      assert.same({ math.mininteger % -1 }, (m % -1):tolist())
    end)

    it("are luann.remainder and luann.floor_divide, in place too", function()
      local a = luann.tensor({ -7, 7 }, I64)
      assert.same({ 2, 1 }, luann.remainder(a, 3):tolist())
      assert.same({ -3, 2 }, a:floor_divide(3):tolist())
      a:remainder_(3)
      assert.same({ 2, 1 }, a:tolist())
      assert.equal("floor_divide: not supported for bool tensors",
        err_of(function() return luann.tensor({ true }) // luann.tensor({ true }) end))
    end)

    it("differentiate as torch: d(a % b) = (1, -(a // b)), d(a // b) = 0", function()
      local a = luann.tensor({ -7.5, 7.5, 5 }, { dtype = "float64", requires_grad = true })
      local b = luann.tensor({ 2, -3, 3 }, { dtype = "float64", requires_grad = true })
      ;(a % b):sum():backward()
      assert.same({ 1, 1, 1 }, a.grad:tolist())
      assert.same({ 4, 3, -1 }, b.grad:tolist()) -- a // b = {-4, -3, 1}
      assert.equal("RemainderBackward", (a % b).grad_fn)
      a.grad, b.grad = nil, nil
      ;(a // b):sum():backward()
      assert.same({ 0, 0, 0 }, a.grad:tolist())
      assert.same({ 0, 0, 0 }, b.grad:tolist())
      -- finite differences, away from the jumps, with broadcasting
      local leaf = function(v) return luann.tensor(v, { dtype = "float64", requires_grad = true }) end
      assert.is_true(luann.autograd.gradcheck(function(x, y) return x % y end,
        { leaf({ { 5.3, -7.1, 2.2 } }), leaf({ { 2.1 }, { -1.6 } }) }))
      assert.is_true(luann.autograd.gradcheck(function(x) return 4.5 % x end, { leaf({ 2.1, -1.6 }) }))
    end)
  end)

  describe("t.shape", function()
    local t = luann.zeros(2, 3)

    it("prints as (2,3)", function()
      assert.equal("(2,3)", tostring(t.shape))
      assert.equal("(4,)", tostring(luann.zeros(4).shape))
      assert.equal("()", tostring(luann.tensor(1).shape))
      assert.equal("shape (2,3)", "shape " .. t.shape)
      assert.equal("(2,3) rows", t.shape .. " rows")
    end)

    it("indexes like a table, negative indices from the end", function()
      local s = t.shape
      assert.equal(2, s[1])
      assert.equal(3, s[2])
      assert.equal(3, s[-1])
      assert.equal(2, s[-2])
      assert.is_nil(s[-3])
      assert.is_nil(s[3])
      assert.is_nil(s[0])
      assert.equal(3, s[4 / 2])
    end)

    it("has #, ipairs, pairs and table.unpack", function()
      local s = t.shape
      assert.equal(2, #s)
      local seen = {}
      for i, n in ipairs(s) do seen[i] = n end
      assert.same({ 2, 3 }, seen)
      local keys = 0
      for _ in pairs(s) do keys = keys + 1 end
      assert.equal(2, keys)
      assert.same({ 2, 3 }, { table.unpack(s) })
      assert.same({ 2, 3 }, s) -- deep comparison sees the sizes only
    end)

    it("compares with == to a shape or a plain table", function()
      assert.is_true(t.shape == luann.ones(2, 3).shape)
      assert.is_true(t.shape == { 2, 3 })
      assert.is_true({ 2, 3 } == t.shape)
      assert.is_false(t.shape == { 3, 2 })
      assert.is_false(t.shape == { 2, 3, 1 })
      assert.is_false(t.shape == luann.zeros(6).shape)
      assert.is_true(t.shape ~= { 2 })
    end)

    it("goes back into the functions that take sizes", function()
      assert.equal("(2,3)", tostring(luann.ones(t.shape).shape))
      assert.equal("(3,2)", tostring(luann.arange(6):view(3, 2).shape))
      assert.equal("(6,)", tostring(t:view(t.shape[1] * t.shape[2]).shape))
      assert.equal("(2,3)", tostring(t:size()))
      assert.equal(3, t:size(-1))
    end)

    it("is a fresh table each time (mutating one changes no tensor)", function()
      local s = t.shape
      s[1] = 9
      assert.same({ 2, 3 }, t.shape)
    end)
  end)

  describe("pairs(t)", function()
    it("gives index and row view over the first dim", function()
      local t = luann.tensor({ { 1, 2 }, { 3, 4 }, { 5, 6 } })
      local rows = {}
      for i, row in pairs(t) do
        assert.equal("(2,)", tostring(row.shape))
        rows[i] = row:tolist()
      end
      assert.same({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, rows)
      for _, row in pairs(t) do row:mul_(10) end -- views: writes reach t
      assert.same({ { 10, 20 }, { 30, 40 }, { 50, 60 } }, t:tolist())
    end)

    it("gives numbers for a 1-D tensor", function()
      local sum, n = 0, 0
      for i, x in pairs(luann.tensor({ 1.5, 2.5, 3 })) do
        assert.equal("number", type(x))
        sum, n = sum + x, i
      end
      assert.equal(7, sum)
      assert.equal(3, n)
      for _ in pairs(luann.zeros(0)) do error("an empty tensor has no elements") end
    end)

    it("refuses a 0-dim tensor", function()
      assert.equal("pairs: cannot iterate over a 0-dim tensor (its value is t:item())",
        err_of(function() for _ in pairs(luann.tensor(1)) do end end))
    end)

    it("is where ipairs' error past the end points", function()
      local t = luann.tensor({ 1, 2 })
      assert.equal("index 3 is out of range for dim 1 of size 2 (iterate with pairs(t))",
        err_of(function() for _ in ipairs(t) do end end))
    end)
  end)

  describe("integer arguments", function()
    it("take floats with an integer value, as string.rep does", function()
      assert.equal("(2,)", tostring(luann.zeros(4 / 2).shape))
      assert.equal("(2,3)", tostring(luann.ones({ 4 / 2, 3.0 }).shape))
      assert.equal("(2,2)", tostring(luann.rand(4 / 2, 2.0).shape))
      assert.equal("(3,3)", tostring(luann.eye(3.0).shape))
      local t = luann.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
      assert.equal(4, t[4 / 2][1])
      assert.equal(6, t[{ 4 / 2, -1.0 }])
      assert.same({ 5, 6 }, t[{ 2.0, { 2.0, 3.0 } }]:tolist())
      t[4 / 2] = 0
      assert.same({ 0, 0, 0 }, t[2]:tolist())
      assert.same({ 1, 2, 3 }, t:view(4 / 2, 3):sum(2 / 2):tolist())
      assert.equal("(2,5)", tostring(luann.randint(0, 10 / 2, { 4 / 2, 5.0 }).shape))
    end)

    it("refuse other floats, naming the argument", function()
      local t = luann.tensor({ 1, 2, 3 })
      assert.matches("bad argument #1 to '[%w.]*zeros' %(sizes must be integers, got 2.5%)",
        err_of(luann.zeros, 2.5))
      assert.matches("bad argument #2 to '[%w.]*ones' %(sizes must be integers, got 0.5%)",
        err_of(luann.ones, 2, 0.5))
      assert.matches("bad argument #1 to '[%w.]*zeros' %(sizes must be integers, got 1.5 at position 2%)",
        err_of(luann.zeros, { 2, 1.5 }))
      assert.equal("index: indices must be integers, got 2.5", err_of(function() return t[2.5] end))
      assert.equal("index: entry 1 must be an integer, a range {from, to} or \"all\", got 1.5",
        err_of(function() return t[{ 1.5 }] end))
      assert.equal("index: range bounds must be integers", err_of(function() return t[{ { 1, 2.5 } }] end))
      assert.matches("bad argument #2 to 'narrow' %(integer expected, got 1.5%)",
        err_of(function() return t:narrow(1, 1.5, 1) end))
      assert.matches("bad argument #1 to 'view' %(sizes must be integers, got 1.5 at position 2%)",
        err_of(function() return t:view({ 2, 1.5 }) end))
      assert.matches("bad argument #1 to '[%w.]*eye' %(integer expected, got 2.5%)", err_of(luann.eye, 2.5))
      assert.equal("save: compression must be an integer from 0 to 9, got 2.5",
        err_of(luann.save, "no-such-dir/never-written.ckpt", { t = t }, { compression = 2.5 }))
    end)
  end)

  describe("option keys", function()
    local function unknown(fn, ...)
      return err_of(fn, ...)
    end

    it("of the creation functions are checked, listing the known keys", function()
      assert.matches("bad argument #2 to '[%w.]*zeros' %(unknown option 'dtyp' %(did you mean 'dtype'%?%); "
        .. "known options: dtype, device, requires_grad%)", unknown(luann.zeros, 2, { dtyp = "float64" }))
      assert.matches("unknown option 'requires_gradd' %(did you mean 'requires_grad'%?%); known options: "
        .. "dtype, device, requires_grad", unknown(luann.tensor, { 1, 2 }, { requires_gradd = true }))
      assert.matches("unknown option 'generatr' %(did you mean 'generator'%?%); known options: dtype, "
        .. "device, requires_grad, generator", unknown(luann.rand, 2, { generatr = luann.Generator(1) }))
      assert.matches("unknown option 'colour'; known options: dtype, device, requires_grad, generator",
        unknown(luann.randint, 0, 3, { 2 }, { colour = 1 }))
      assert.matches("options are named, got a number key", unknown(luann.ones, { 2 }, { "float64" }))
      assert.matches("unknown option 'generator'", unknown(luann.zeros_like, luann.zeros(2), { generator = 1 }))
      assert.matches("unknown option 'dtpe'", unknown(luann.randn_like, luann.zeros(2), { dtpe = "float64" }))
      assert.matches("unknown option 'dtpe'", unknown(luann.full, { 2 }, 1, { dtpe = "float64" }))
      assert.matches("unknown option 'dtpe'", unknown(luann.arange, 3, { dtpe = "float64" }))
      assert.matches("unknown option 'dtpe'", unknown(luann.randperm, 3, { dtpe = "float64" }))
    end)

    it("of methods and functions with options tables are checked", function()
      local t = luann.ones(2, 2)
      assert.matches("unknown option 'dtyp' %(did you mean 'dtype'%?%); known options: dtype, device",
        unknown(t.to, t, { dtyp = "float64" }))
      assert.matches("unknown option 'corection' %(did you mean 'correction'%?%)",
        unknown(t.var, t, 1, false, { corection = 0 }))
      assert.matches("unknown option 'betta' %(did you mean 'beta'%?%); known options: beta, alpha",
        unknown(luann.addmm, t, t, t, { betta = 0 }))
      assert.matches("unknown option 'alph' %(did you mean 'alpha'%?%)",
        unknown(t.index_add, t, 1, luann.tensor({ 1 }), luann.ones(1, 2), { alph = 2 }))
      assert.matches("unknown option 'gen'; known options: generator", unknown(t.normal_, t, 0, 1, { gen = 1 }))
      assert.matches("unknown option 'compresion' %(did you mean 'compression'%?%)",
        unknown(luann.save, "no-such-dir/never-written.ckpt", { t = t }, { compresion = 6 }))
    end)

    it("still read the right keys", function()
      local t = luann.zeros(2, { dtype = "float64", requires_grad = true })
      assert.equal("float64", t.dtype)
      assert.is_true(t.requires_grad)
      assert.equal("int64", luann.rand_like(luann.zeros(2), { generator = luann.Generator(1) }):long().dtype)
    end)
  end)

  describe("PyTorch names", function()
    local t = luann.tensor({ 1, 2 })

    it("answer with luann's way", function()
      assert.equal("a tensor has no field 'numpy' in luann: t:tolist() gives the values as Lua tables",
        err_of(function() return t:numpy() end))
      assert.equal("a tensor has no field 'data' in luann: t:detach() gives the same values without history",
        err_of(function() return t.data end))
      assert.matches("t:to%(\"opencl\"%)", err_of(function() return t:cuda() end))
      assert.matches("t:dim%(%)", err_of(function() return t:ndimension() end))
    end)

    it("point at methods that exist", function()
      for _, m in ipairs({ "tolist", "detach", "to", "double", "long", "float", "dim", "numel", "clamp",
        "view", "reshape", "logical_not" }) do
        assert.equal("function", type(t[m]), m)
      end
      for _, f in ipairs({ "zeros_like", "ones_like", "cat", "stack", "equal" }) do
        assert.equal("function", type(luann[f]), f)
      end
    end)

    it("leave other unknown fields nil", function()
      assert.is_nil(t.no_such_field)
      assert.is_nil(t.forward)
    end)
  end)

  describe("randint", function()
    it("is half open, as PyTorch: randint(10, {n}) gives 0..9", function()
      luann.manual_seed(11)
      local v = values(luann.randint(10, { 2000 }))
      assert.equal(0, math.min(table.unpack(v)))
      assert.equal(9, math.max(table.unpack(v)))
    end)

    it("gives 1-based class labels as randint(1, 11, {n})", function()
      local v = values(luann.randint(1, 11, { 2000 }))
      assert.equal(1, math.min(table.unpack(v)))
      assert.equal(10, math.max(table.unpack(v)))
    end)
  end)
end)
