-- Tensor ops that move, copy or find elements: flip, roll, repeat (and
-- Torch7's repeatTensor), tile (core/op_reorder.c), nonzero
-- (core/op_mask.c) and einsum (lua/luann/einsum.lua): hand-computed
-- values, the PyTorch reference cases of spec/reference/tensor_ops.lua,
-- finite-difference gradients, OpenCL against the CPU, and the errors.
--
-- `repeat` is a Lua keyword, so t:repeat(2, 3) does not parse: PyTorch's
-- name is reached as t["repeat"](t, 2, 3), and t:repeatTensor(2, 3) is the
-- same op under Torch7's name.
local luann = require "luann"
local cmp = require "opencl_compare"
local ref = require "reference.load"
local helpers = require "helpers"

local gradcheck = luann.autograd.gradcheck
local sorted_keys = helpers.sorted_keys

local function t64(data)
  return luann.tensor(data, { dtype = "float64" })
end

local function rand64(...)
  return luann.randn({ ... }, { dtype = "float64" }):requires_grad_()
end

local function lua_dims(dims)
  if type(dims) ~= "table" then dims = { dims } end
  local out = {}
  for i, d in ipairs(dims) do out[i] = d >= 0 and d + 1 or d end
  return out
end

-- The luann call for each reference op: PyTorch's 0-based dims made 1-based.
local CALL = {
  flip = function(o, x) return luann.flip(x, lua_dims(o.dims)) end,
  roll = function(o, x) return luann.roll(x, o.shifts, o.dims and lua_dims(o.dims)) end,
  ["repeat"] = function(o, x) return x["repeat"](x, table.unpack(o.sizes)) end,
  tile = function(o, x) return luann.tile(x, o.dims) end,
  einsum = function(o, a, b) return luann.einsum(o.equation, a, b) end,
}

-- Runs a reference case in dtype: the output and the stored gradients
-- within rtol/atol of PyTorch's.
local function check_case(c, dtype, rtol, atol)
  local names = c.inputs.input and { "input" } or (c.inputs.b and { "a", "b" } or { "a" })
  local xs = {}
  for i, name in ipairs(names) do xs[i] = ref.tensor(c.inputs[name], dtype):requires_grad_() end
  local y = CALL[c.op](c.options, table.unpack(xs))
  assert.same(c.output.shape, y.shape)
  helpers.assert_close(y, c.output.data, rtol, atol)
  y:backward(ref.tensor(c.grad_output, dtype))
  for i, name in ipairs(names) do
    assert.same(c.grads[name].shape, xs[i].grad.shape, name .. " gradient shape")
    helpers.assert_close(xs[i].grad, c.grads[name].data, rtol, atol)
  end
end

describe("tensor ops", function()
  setup(function() luann.manual_seed(17) end)

  describe("flip", function()
    local x = luann.arange(1, 7):view(2, 3)

    it("reverses the dims given, as a list or as arguments, 1-based or negative", function()
      assert.same({ { 4, 5, 6 }, { 1, 2, 3 } }, x:flip(1):tolist())
      assert.same({ { 3, 2, 1 }, { 6, 5, 4 } }, luann.flip(x, { -1 }):tolist())
      assert.same({ { 6, 5, 4 }, { 3, 2, 1 } }, x:flip(1, 2):tolist())
      assert.same({ { 6, 5, 4 }, { 3, 2, 1 } }, luann.flip(x, { 2, 1 }):tolist())
      assert.same({ { 6, 5, 4 }, { 3, 2, 1 } }, x:flip({ dims = { 1, -1 } }):tolist())
    end)

    it("returns a copy, also when nothing moves", function()
      local one = luann.tensor({ { 1, 2, 3 } })
      for _, y in ipairs({ one:flip(1), one:flip({ dims = {} }), luann.tensor(5):flip(1) }) do
        y:fill_(0)
      end
      assert.same({ { 1, 2, 3 } }, one:tolist())
      assert.equal(5, luann.tensor(5):flip(-1):item())
    end)

    it("keeps dtype and takes empty and non-contiguous tensors", function()
      local b = luann.tensor({ true, false, false })
      assert.equal("bool", b:flip(1).dtype)
      assert.same({ false, false, true }, b:flip(1):tolist())
      assert.same({ 0, 3 }, luann.zeros(0, 3):flip(1, 2).shape)
      assert.same({ { 3, 6 }, { 2, 5 }, { 1, 4 } }, x:t():flip(1):tolist())
    end)
  end)

  describe("roll", function()
    local x = luann.arange(1, 7):view(2, 3)

    it("rolls the flattened tensor without dims, as torch.roll", function()
      assert.same({ { 6, 1, 2 }, { 3, 4, 5 } }, x:roll(1):tolist())
      assert.same({ { 2, 3, 4 }, { 5, 6, 1 } }, luann.roll(x, -1):tolist())
    end)

    it("rolls along dims, shifts taken modulo the size, negative to the front", function()
      assert.same({ { 3, 1, 2 }, { 6, 4, 5 } }, x:roll(1, 2):tolist())
      assert.same({ { 3, 1, 2 }, { 6, 4, 5 } }, x:roll(7, -1):tolist())
      assert.same({ { 5, 6, 4 }, { 2, 3, 1 } }, luann.roll(x, { 1, -1 }, { 1, 2 }):tolist())
      assert.same({ { 2, 3, 1 }, { 5, 6, 4 } }, x:roll({ 1, 1 }, { 2, 2 }):roll(-3, 2):tolist())
      -- -2^63 and 2^63 - 1 are both 1 modulo 3
      assert.same({ { 3, 1, 2 }, { 6, 4, 5 } }, x:roll(math.mininteger, 2):tolist())
      assert.same({ { 3, 1, 2 }, { 6, 4, 5 } }, x:roll(math.maxinteger, -1):tolist())
    end)

    it("returns a copy and takes empty tensors", function()
      local y = x:roll(3, 2)
      y:fill_(0)
      assert.same({ 1, 2, 3 }, x[1]:tolist())
      assert.same({ 0, 3 }, luann.zeros(0, 3):roll(2, 1).shape)
      assert.same({ 0, 3 }, luann.zeros(0, 3):roll(2).shape)
    end)
  end)

  describe("repeat, repeatTensor and tile", function()
    local x = luann.tensor({ { 1, 2 }, { 3, 4 } })

    it("repeats each dim, more sizes than dims adding dims in front", function()
      assert.same({ { 1, 2, 1, 2 }, { 3, 4, 3, 4 }, { 1, 2, 1, 2 }, { 3, 4, 3, 4 } },
        x["repeat"](x, 2, 2):tolist())
      assert.same({ { { 1, 2 }, { 3, 4 } }, { { 1, 2 }, { 3, 4 } } }, x:repeatTensor(2, 1, 1):tolist())
      assert.same(x:repeatTensor(3, 1, 2):tolist(), luann.repeatTensor(x, { 3, 1, 2 }):tolist())
      assert.same({ 1, 2, 1, 2, 1, 2 }, luann.tensor({ 1, 2 }):repeatTensor(3):tolist())
      assert.same({ 2, 1, 3 }, luann.tensor(7):repeatTensor(2, 1, 3).shape)
    end)

    it("gives an empty tensor for a count of 0", function()
      assert.same({ 0, 4 }, x:repeatTensor(0, 2).shape)
      assert.same({ 2, 2, 0 }, x:repeatTensor(2, 1, 0).shape)
      assert.same({ 2, 0 }, luann.zeros(2, 0):repeatTensor(1, 5000).shape)
      -- an empty result never holds the counts in an intermediate shape
      assert.same({ 0, 3 }, luann.zeros(0, 3):repeatTensor(2 ^ 39, 1).shape)
      assert.same({ 0, 2 ^ 39 }, luann.zeros(0, 1):repeatTensor(2 ^ 30, 2 ^ 39).shape)
      local g = luann.zeros(0, 3, { requires_grad = true })
      g:repeatTensor(2 ^ 30, 2):sum():backward()
      assert.same({ 0, 3 }, g.grad.shape)
    end)

    it("tile pads fewer counts with ones in front, as torch.tile", function()
      assert.same({ { 1, 2, 1, 2 }, { 3, 4, 3, 4 } }, x:tile(2):tolist())
      assert.same({ { 1, 2, 1, 2 }, { 3, 4, 3, 4 } }, luann.tile(x, { 2 }):tolist())
      assert.same({ 3, 4, 2 }, luann.tile(x, { 3, 2, 1 }).shape)
      assert.same(x:tolist(), x:tile({ dims = {} }):tolist())
    end)

    it("returns a copy and a gradient that sums the copies", function()
      local y = x:tile(1, 1)
      y:fill_(0)
      assert.equal(1, x[1][1])
      local w = t64({ 1, 2 }):requires_grad_()
      w:repeatTensor(2, 3):sum():backward()
      assert.same({ 6, 6 }, w.grad:tolist())
      local z = luann.zeros(2, 3, { dtype = "float64", requires_grad = true })
      local e = z:repeatTensor(0, 2)
      assert.is_true(e.requires_grad)
      e:sum():backward()
      assert.same({ { 0, 0, 0 }, { 0, 0, 0 } }, z.grad:tolist())
    end)

    it("handles 8-dim tensors", function()
      local t = luann.arange(1, 3):view(1, 1, 1, 1, 1, 1, 1, 2)
      local y = t:repeatTensor(2, 1, 2, 1, 1, 1, 1, 2)
      assert.same({ 2, 1, 2, 1, 1, 1, 1, 4 }, y.shape)
      assert.same({ 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2 }, y:reshape(-1):tolist())
    end)
  end)

  describe("nonzero", function()
    local x = luann.tensor({ { 0, 1.5, 0 }, { -2, 0, 3 } })

    it("gives the (K, ndim) int64 indices of the nonzero elements, 1-based, row-major", function()
      local i = x:nonzero()
      assert.equal("int64", i.dtype)
      assert.same({ { 1, 2 }, { 2, 1 }, { 2, 3 } }, i:tolist())
      assert.same(i:tolist(), luann.nonzero(x):tolist())
    end)

    it("gives one index tensor per dim with as_tuple, as that many results", function()
      local rows, cols = luann.nonzero(x, { as_tuple = true })
      assert.same({ 1, 2, 2 }, rows:tolist())
      assert.same({ 2, 1, 3 }, cols:tolist())
      local values = {}
      for k = 1, 3 do values[k] = x[rows[k]][cols[k]] end
      assert.same({ 1.5, -2, 3 }, values)
      local all = { x:nonzero(true) }
      assert.equal(2, #all)
    end)

    it("counts NaN and true, and takes 0-dim and empty tensors as PyTorch does", function()
      assert.same({ { 1 }, { 3 } }, luann.tensor({ 0 / 0, 0, 1 }):nonzero():tolist())
      assert.same({ { 2 } }, luann.tensor({ false, true }):nonzero():tolist())
      assert.same({ 1, 0 }, luann.tensor(5):nonzero().shape)
      assert.same({ 0, 0 }, luann.tensor(0):nonzero().shape)
      assert.same({ 1 }, luann.tensor(5):nonzero(true):tolist())
      assert.same({ 0, 2 }, luann.zeros(0, 3):nonzero().shape)
      assert.same({ 0, 2 }, luann.zeros(2, 3):nonzero().shape)
      local eight = { luann.ones(1, 1, 1, 1, 1, 1, 1, 2):nonzero(true) }
      assert.equal(8, #eight)
      assert.same({ 1, 2 }, eight[8]:tolist())
    end)

    it("has no gradient", function()
      local i = x:double():requires_grad_():nonzero()
      assert.is_false(i.requires_grad)
    end)
  end)

  describe("einsum", function()
    local a = luann.arange(1, 7):view(2, 3)
    local m = luann.arange(1, 10):view(3, 3)

    it("computes hand-checked one- and two-operand expressions", function()
      local b = luann.arange(1, 13):view(3, 4)
      assert.same(a:matmul(b:double()):long():tolist(), luann.einsum("ij,jk->ik", a, b):tolist())
      assert.same({ 1, 5, 9 }, luann.einsum("ii->i", m):tolist())
      assert.equal(15, luann.einsum("ii", m):item())
      assert.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, luann.einsum("ij->ji", a):tolist())
      assert.equal(14, luann.einsum("i,i->", luann.arange(1, 4), luann.arange(1, 4)):item())
      assert.same({ { 3, 4 }, { 6, 8 } }, luann.einsum("i,j->ij", luann.arange(1, 3), luann.arange(3, 5)):tolist())
      assert.equal(21, luann.einsum("ij->", a):item())
      assert.same({ 6, 15 }, luann.einsum("ij->i", a):tolist())
      assert.equal(2, luann.einsum("iii", luann.ones(2, 2, 2)):item())
    end)

    it("takes the operands as a list and ignores spaces", function()
      local x, y = rand64(2, 3), rand64(3, 4)
      assert.is_true(luann.allclose(x:matmul(y), luann.einsum(" ij , jk -> ik ", { x, y })))
    end)

    it("forms the implicit output from the letters seen once, sorted, uppercase first", function()
      assert.same({ 3, 2 }, luann.einsum("ij", a:t()).shape)
      assert.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, luann.einsum("ba", a):tolist())
      assert.same({ 3, 2 }, luann.einsum("zA", a).shape)
      local x, y = rand64(2, 3), rand64(4, 3)
      assert.is_true(luann.allclose(x:matmul(y:t()), luann.einsum("ij,kj", x, y)))
    end)

    it("broadcasts the ellipsis dims and subscripts of size 1", function()
      local x, y = rand64(2, 1, 2, 3), rand64(3, 3, 2)
      assert.is_true(luann.allclose(x:matmul(y), luann.einsum("...ij,...jk->...ik", x, y)))
      local r, s = rand64(2, 1), rand64(3, 4)
      assert.is_true(luann.allclose(r:expand(2, 3):matmul(s), luann.einsum("ij,jk->ik", r, s)))
      assert.same({ 4, 2 }, luann.einsum("...i->i...", rand64(2, 4)).shape)
      assert.same({ 2 }, luann.einsum("...ij->...", rand64(2, 3, 4)).shape)
      assert.same({ 3 }, luann.einsum("...ij->j", rand64(5, 2, 3)).shape)
    end)

    it("works on integer operands (no bmm) and returns float64 for mixed floats", function()
      local x, y = luann.arange(1, 7):view(2, 3), luann.arange(1, 7):view(3, 2)
      assert.same({ { 22, 28 }, { 49, 64 } }, luann.einsum("ij,jk->ik", x, y):tolist())
      assert.same({ { 1, 4, 9 }, { 16, 25, 36 } }, luann.einsum("ij,ij->ij", x, y:reshape(2, 3)):tolist())
      assert.equal("float64", luann.einsum("ij,jk", x:float(), y:double()).dtype)
    end)

    it("takes empty dims", function()
      assert.same({ { 0, 0 }, { 0, 0 } }, luann.einsum("ij,jk->ik", luann.ones(2, 0), luann.ones(0, 2)):tolist())
      assert.same({ 0, 2 }, luann.einsum("ij,jk->ik", luann.ones(0, 3), luann.ones(3, 2)).shape)
    end)
  end)

  describe("PyTorch reference values", function()
    local cases = ref.family("tensor_ops")
    for _, name in ipairs(sorted_keys(cases)) do
      local c = cases[name]
      if c.op ~= "nonzero" then
        it(name .. " (float64)", function() check_case(c, "float64", 1e-12, 1e-12) end)
      end
    end
    for _, name in ipairs({ "roll_two_dims", "tile_more_dims", "einsum_bmm", "einsum_ellipsis_broadcast" }) do
      it(name .. " (float32)", function() check_case(cases[name], "float32", 1e-5, 1e-5) end)
    end

    it("nonzero matches PyTorch's indices plus one", function()
      for _, name in ipairs({ "nonzero_3d", "nonzero_3d_tuple", "nonzero_none" }) do
        local c = cases[name]
        local x = ref.tensor(c.inputs.input)
        local got = { x:nonzero(c.options.as_tuple) }
        local want = c.outputs or { c.output }
        assert.equal(#want, #got, name)
        for k, w in ipairs(want) do
          assert.same(w.shape, got[k].shape, name)
          assert.equal("int64", got[k].dtype)
          assert.same(ref.tensor(w):add(1):reshape(-1):tolist(), got[k]:reshape(-1):tolist(), name)
        end
      end
    end)
  end)

  describe("gradcheck", function()
    it("flip and roll", function()
      local x = rand64(2, 3, 4)
      assert.is_true(gradcheck(function(t) return t:flip(1, 3) end, { x }))
      assert.is_true(gradcheck(function(t) return t:t():flip(2) end, { rand64(3, 4) }))
      assert.is_true(gradcheck(function(t) return t:roll({ 1, -5 }, { 2, 3 }) end, { x }))
      assert.is_true(gradcheck(function(t) return t:roll(7) end, { x }))
    end)

    it("repeat and tile", function()
      local x = rand64(2, 3)
      assert.is_true(gradcheck(function(t) return t["repeat"](t, 2, 1, 3) end, { x }))
      assert.is_true(gradcheck(function(t) return t:repeatTensor(1, 2) end, { x }))
      assert.is_true(gradcheck(function(t) return t:tile(3) end, { x }))
      assert.is_true(gradcheck(function(t) return t:t():tile(2, 1, 2) end, { x }))
    end)

    it("einsum", function()
      local cases = {
        { "ij,jk->ik", { 2, 3 }, { 3, 4 } }, { "bij,bjk->bik", { 2, 2, 3 }, { 2, 3, 2 } },
        { "ii->i", { 3, 3 } }, { "ii", { 3, 3 } }, { "ij->ji", { 2, 3 } }, { "i,i->", { 4 }, { 4 } },
        { "i,j->ij", { 3 }, { 2 } }, { "...ij,...jk->...ik", { 2, 1, 2, 3 }, { 3, 3, 2 } },
        { "iij,jk", { 2, 2, 3 }, { 3, 2 } }, { "ij,jk->ik", { 2, 1 }, { 3, 4 } },
        { "bi,bj->bij", { 2, 3 }, { 2, 2 } }, { "ijk,k->i", { 2, 3, 2 }, { 2 } },
      }
      for _, c in ipairs(cases) do
        local inputs = { rand64(table.unpack(c[2])) }
        if c[3] then inputs[2] = rand64(table.unpack(c[3])) end
        assert.is_true(gradcheck(function(p, q) return luann.einsum(c[1], p, q) end, inputs), c[1])
      end
    end)
  end)

  describe("OpenCL against the CPU #opencl", function()
    if not cmp.HAVE then
      it("needs an OpenCL device", function() pending("no OpenCL device") end)
      return
    end

    it("flip, roll, repeat and tile, forward and backward", function()
      local x = luann.randn(2, 3, 2)
      cmp.both(function(t) return t:flip(1, 3) end, { x }, { grad = true })
      cmp.both(function(t) return t:roll({ 1, -1 }, { 2, 3 }) end, { x }, { grad = true })
      cmp.both(function(t) return t:roll(5) end, { x }, { grad = true })
      cmp.both(function(t) return t:repeatTensor(2, 1, 1, 2) end, { x }, { grad = true })
      cmp.both(function(t) return t:tile(2) end, { x }, { grad = true })
    end)

    it("nonzero", function()
      local x = luann.tensor({ { 0, 1, 0 }, { 2, 0, 3 } })
      cmp.both(function(t) return t:nonzero() end, { x })
      cmp.both(function(t) return { t:nonzero(true) } end, { x })
    end)

    it("einsum", function()
      local a, b = luann.randn(2, 2, 3), luann.randn(2, 3, 2)
      cmp.both(function(p, q) return luann.einsum("bij,bjk->bik", p, q) end, { a, b }, { grad = true })
      cmp.both(function(p) return luann.einsum("ii->i", p) end, { luann.randn(3, 3) }, { grad = true })
      cmp.both(function(p, q) return luann.einsum("...ij,jk", p, q) end,
        { a, luann.randn(3, 2) }, { grad = true })
    end)
  end)

  describe("errors", function()
    local x = luann.zeros(2, 3)

    it("flip names the dim and the shape", function()
      assert.has.error(function() x:flip(3) end, "flip: dim 3 is out of range for shape (2,3)")
      assert.has.error(function() x:flip(1, -2) end,
        "flip: dim 1 appears more than once in dims (shape (2,3))")
      assert.has.error(function() x:flip(0) end,
        "flip: dims must be a dim from 1 (or negative from the end), got 0")
      assert.has.error(function() x:flip() end, "flip: missing dims")
      assert.has.error(function() x:flip(1.5) end, "flip: dims must be integers, got 1.5")
      assert.has.error(function() x:flip(1, 2, 3, 4, 5, 6, 7, 8, 9) end,
        "flip: dims must have at most 8 numbers, got 9")
    end)

    it("roll names shifts, dims and the shape", function()
      assert.has.error(function() x:roll({ 1, 2 }) end,
        "roll: without dims, shifts must be one number (the flattened tensor's), got 2 for shape (2,3)")
      assert.has.error(function() x:roll({ 1, 2 }, 1) end,
        "roll: shifts and dims must have the same length, got 2 shifts and 1 dims for shape (2,3)")
      assert.has.error(function() x:roll(1, -3) end, "roll: dim -3 is out of range for shape (2,3)")
      assert.has.error(function() x:roll("a") end,
        "roll: shifts must be an integer or a list of integers, got string")
    end)

    it("repeat and tile name the counts and the shape", function()
      assert.has.error(function() x["repeat"](x, 2) end,
        "repeat: got 1 sizes for shape (2,3): give at least one per dim")
      assert.has.error(function() x:repeatTensor(-1, 2) end,
        "repeatTensor: repeat counts must be non-negative, got -1 for shape (2,3)")
      assert.has.error(function() x:tile(math.mininteger) end,
        "tile: repeat counts must be non-negative, got -9223372036854775808 for shape (2,3)")
      assert.has.error(function() x:repeatTensor(2 ^ 40, 2 ^ 40) end,
        "repeatTensor: repeating shape (2,3) by (1099511627776,1099511627776): " ..
        "7253554917687775048237056 elements are too many")
      assert.has.error(function() x:repeatTensor(math.maxinteger, math.maxinteger) end)
      assert.has.error(function() luann.zeros(0, 3):repeatTensor(2, 2 ^ 40) end,
        "repeatTensor: repeating shape (0,3) by (2,1099511627776): shape (0,3298534883328) is " ..
        "too large: its nonzero sizes multiply to 3298534883328 (at most 2^40, also for an empty tensor)")
      assert.has.error(function() x:tile(1, 1, 1, 1, 1, 1, 1, 1, 1) end,
        "tile: dims must have at most 8 numbers, got 9")
    end)

    it("nonzero takes a boolean as_tuple", function()
      assert.has.error(function() x:nonzero(1) end, "nonzero: as_tuple must be a boolean, got number")
    end)

    it("einsum names itself and the operand shapes", function()
      local a, b = luann.zeros(2, 3), luann.zeros(4, 5)
      local cases = {
        { "ij,jk->ik", { a }, "einsum: 'ij,jk->ik' names 2 operands, got 1 (shapes (2,3))" },
        { "ij,jk", { a, b },
          "einsum: subscript j has size 3 in operand 1 and 4 in operand 2 (shapes (2,3) and (4,5))" },
        { "i", { a }, "einsum: operand 1 has shape (2,3) but its subscripts name 1 dims (shapes (2,3))" },
        { "ijk...", { a },
          "einsum: operand 1 has shape (2,3) but its subscripts name at least 3 dims (shapes (2,3))" },
        { "ii", { a }, "einsum: subscript i is repeated in operand 1 (shape (2,3)) with sizes 2 and 3" },
        { "ij->k", { a }, "einsum: output subscript k appears in no operand of 'ij->k'" },
        { "ij->ii", { a }, "einsum: output subscript i appears more than once in 'ij->ii'" },
        { "i1", { a }, "einsum: invalid subscript '1' in 'i1': subscripts are letters a-z and A-Z" },
        { "i.j", { a }, "einsum: 'i.j' has a '.' that is not part of an ellipsis '...'" },
        { "...i...", { a }, "einsum: '...i...' has more than one ellipsis in a term" },
        { "ij->j->i", { a }, "einsum: 'ij->j->i' has more than one '->'" },
        { "...i,...i", { luann.zeros(2, 3), luann.zeros(4, 3) },
          "einsum: an ellipsis dim has size 2 in operand 1 and 4 in operand 2 (shapes (2,3) and (4,3))" },
        { "abcde,fghij", { luann.zeros(1, 1, 1, 1, 1), luann.zeros(1, 1, 1, 1, 1) },
          "einsum: the output of 'abcde,fghij' would have 10 dims (at most 8; shapes (1,1,1,1,1) and (1,1,1,1,1))" },
      }
      for _, c in ipairs(cases) do
        assert.has.error(function() luann.einsum(c[1], table.unpack(c[2])) end, c[3])
      end
      assert.has.error(function() luann.einsum(3, a) end, "einsum: equation must be a string, got number")
      assert.has.error(function() luann.einsum("ij", "a") end, "einsum: operand 1 must be a tensor, got string")
      assert.has.error(function() luann.einsum("i,i,i", a, a, a) end, "einsum: luann takes one or two operands, got 3")
      assert.has.error(function() luann.einsum("i", {}) end, "einsum: luann takes one or two operands, got 0")
      local i = luann.ones(1, 1, 1, 1, 2, { dtype = "int64" })
      assert.has.error(function() luann.einsum("abcdi,efghi->abcdefgh", i, i) end,
        "einsum: 'abcdi,efghi->abcdefgh' on int64 and int64 operands needs 9 dims at once (at most 8; " ..
        "shapes (1,1,1,1,2) and (1,1,1,1,2))")
      assert.equal(2, luann.einsum("abcdi,efghi->abcdefgh", i:double(), i:double()):reshape(-1)[1])
    end)
  end)
end)
