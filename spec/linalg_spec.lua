-- Matrix products: values against a naive float64 loop written here,
-- strided and broadcast operands, vectors, empty dims, errors, gradients.
local luann = require "luann"

-- ---- references -------------------------------------------------------

-- a @ b for 2-D Lua tables, in float64.
local function naive_mm(a, b)
  local m, k, n = #a, #b, #b > 0 and #b[1] or 0
  local c = {}
  for i = 1, m do
    c[i] = {}
    for j = 1, n do
      local s = 0
      for p = 1, k do s = s + a[i][p] * b[p][j] end
      c[i][j] = s
    end
  end
  return c
end

local function values(t) return t:double():tolist() end

-- Asserts that nested tables got and want agree within tol (relative to
-- the larger magnitude, absolute below 1).
local function assert_close(got, want, tol, path)
  path = path or ""
  if type(want) == "table" then
    assert.are.equal(#want, #got, "length at " .. path)
    for i = 1, #want do assert_close(got[i], want[i], tol, path .. "[" .. i .. "]") end
    return
  end
  local scale = math.max(1, math.abs(want), math.abs(got))
  if math.abs(got - want) > tol * scale then
    error(("value at %s: got %.10g, want %.10g"):format(path, got, want), 2)
  end
end

local function randn(...)
  return luann.randn(...)
end

local function leaf(...) -- a float64 tensor that requires grad
  local shape = { ... }
  return luann.randn(shape, { dtype = "float64", requires_grad = true })
end

local gradcheck = luann.autograd.gradcheck

describe("luann linalg", function()
  before_each(function() luann.manual_seed(1234) end)

  describe("matmul", function()
    it("matches a naive float64 loop for float32 and float64 matrices", function()
      for _, dt in ipairs { "float32", "float64" } do
        local a, b = randn(5, 7, { dtype = dt }), randn(7, 3, { dtype = dt })
        local c = luann.matmul(a, b)
        assert.are.same({ 5, 3 }, c.shape)
        assert.are.equal(dt, c.dtype)
        assert_close(values(c), naive_mm(values(a), values(b)),
                     dt == "float32" and 1e-5 or 1e-12)
      end
    end)

    it("is a method too", function()
      local a, b = randn(2, 3), randn(3, 4)
      assert_close(values(a:matmul(b)), naive_mm(values(a), values(b)), 1e-5)
    end)

    it("takes transposed, sliced and expanded operands", function()
      local a = randn(7, 5):t()                 -- (5,7), column-major
      local b = randn(7, 12)[{ ":", { 1, -1, 2 } }] -- (7,6), column stride 2
      assert.is_false(a:is_contiguous())
      assert.is_false(b:is_contiguous())
      assert_close(values(luann.matmul(a, b)), naive_mm(values(a), values(b)), 1e-5)
      local g = randn(9, 8)[{ { 2, 8, 3 }, { 1, -1, 3 } }] -- both strides odd
      local h = randn(3, 4)
      assert_close(values(luann.matmul(g, h)), naive_mm(values(g), values(h)), 1e-5)
      local row = randn(1, 7):expand(4, 7)      -- row stride 0
      local col = randn(7, 1):expand(7, 3)      -- column stride 0
      assert_close(values(luann.matmul(row, col)),
                   naive_mm(values(row), values(col)), 1e-5)
    end)

    it("multiplies vectors as rows and columns and drops their dims", function()
      local v, w, m = randn(4), randn(4), randn(4, 3)
      local vm = luann.matmul(v, m)
      assert.are.same({ 3 }, vm.shape)
      assert_close(values(vm), naive_mm({ values(v) }, values(m))[1], 1e-5)
      local mt = m:t()
      local mv = luann.matmul(mt, v)
      assert.are.same({ 3 }, mv.shape)
      local want = naive_mm(values(mt), (function()
        local c = {}
        for i, x in ipairs(values(v)) do c[i] = { x } end
        return c
      end)())
      for i = 1, 3 do assert_close(mv:tolist()[i], want[i][1], 1e-5) end
      local s = luann.matmul(v, w)
      assert.are.same({}, s.shape)
      local dot = 0
      local vv, ww = values(v), values(w)
      for i = 1, 4 do dot = dot + vv[i] * ww[i] end
      assert_close(s:item(), dot, 1e-5)
    end)

    it("broadcasts batch dims", function()
      local a, b = randn(2, 1, 3, 4), randn(5, 4, 2)
      local c = luann.matmul(a, b)
      assert.are.same({ 2, 5, 3, 2 }, c.shape)
      local av, bv, cv = values(a), values(b), values(c)
      for i = 1, 2 do
        for j = 1, 5 do assert_close(cv[i][j], naive_mm(av[i][1], bv[j]), 1e-5) end
      end
    end)

    it("applies one matrix to a whole batch, strided or not", function()
      local w = randn(4, 6)
      for _, x in ipairs { randn(3, 5, 4), randn(3, 4, 5):transpose(2, 3),
                           randn(5, 3, 4):transpose(1, 2) } do
        local y = luann.matmul(x, w)
        assert.are.same({ 3, 5, 6 }, y.shape)
        local xv, yv = values(x), values(y)
        for i = 1, 3 do assert_close(yv[i], naive_mm(xv[i], values(w)), 1e-5) end
      end
      local v = randn(4) -- a vector times a batch of matrices
      local m = randn(2, 4, 3)
      local r = luann.matmul(v, m)
      assert.are.same({ 2, 3 }, r.shape)
      for i = 1, 2 do
        assert_close(values(r)[i], naive_mm({ values(v) }, values(m)[i])[1], 1e-5)
      end
    end)

    it("gives zeros for k = 0 and empty results for empty dims", function()
      local z = luann.matmul(luann.zeros(3, 0), luann.zeros(0, 5))
      assert.are.same({ 3, 5 }, z.shape)
      assert.are.same(luann.zeros(3, 5):tolist(), z:tolist())
      assert.are.same({ 0, 5 }, luann.matmul(luann.zeros(0, 4), randn(4, 5)).shape)
      assert.are.same({ 3, 0 }, luann.matmul(randn(3, 4), luann.zeros(4, 0)).shape)
      assert.are.same({ 0, 3, 2 }, luann.matmul(luann.zeros(0, 3, 4), randn(4, 2)).shape)
      assert.are.equal(0, luann.matmul(luann.zeros(0), luann.zeros(0)):item())
    end)

    it("promotes mixed dtypes", function()
      local a = randn(2, 3)
      local b = randn(3, 2, { dtype = "float64" })
      local c = luann.matmul(a, b)
      assert.are.equal("float64", c.dtype)
      assert_close(values(c), naive_mm(values(a), values(b)), 1e-12)
      local i = luann.arange(6):view(3, 2) -- int64 meets float32: float32
      local f = luann.matmul(a, i)
      assert.are.equal("float32", f.dtype)
      assert_close(values(f), naive_mm(values(a), values(i)), 1e-5)
    end)

    it("rejects integer products, bad shapes and 0-dim tensors", function()
      local i = luann.arange(6):view(2, 3)
      assert.has_error(function() luann.matmul(i, i:t()) end,
        "matmul: expected float32 or float64 tensors, got int64 and int64")
      assert.has_error(function() luann.matmul(luann.zeros(3, 4), luann.zeros(5, 6)) end,
        "matmul: shapes (3,4) and (5,6) cannot be multiplied")
      assert.has_error(function() luann.matmul(luann.zeros(3), luann.zeros(4)) end,
        "matmul: shapes (3,) and (4,) cannot be multiplied")
      assert.has_error(function() luann.matmul(luann.zeros(2, 3, 4), luann.zeros(3, 4, 5)) end,
        "matmul: shapes (2,3,4) and (3,4,5) cannot be multiplied (batch dims do not broadcast)")
      assert.has_error(function() luann.matmul(luann.tensor(2.0), luann.zeros(3)) end,
        "matmul: expected at least 1 dim each, got shapes () and (3,)")
      assert.has_error(function() luann.matmul(luann.zeros(3), 2) end)
    end)

    it("has gradients for matrices, vectors and broadcast batches", function()
      local cases = {
        { { 3, 4 }, { 4, 2 } }, { { 2, 3, 4 }, { 4, 2 } }, { { 3, 4 }, { 2, 4, 2 } },
        { { 2, 1, 3, 2 }, { 3, 2, 2 } }, { { 4 }, { 4, 3 } }, { { 3, 4 }, { 4 } },
        { { 4 }, { 4 } }, { { 4 }, { 2, 4, 3 } }, { { 2, 3, 4 }, { 4 } },
      }
      for _, c in ipairs(cases) do
        local a, b = leaf(table.unpack(c[1])), leaf(table.unpack(c[2]))
        assert.is_true(gradcheck(luann.matmul, { a, b }))
      end
    end)

    it("has gradients through transposed operands", function()
      local a, b = leaf(4, 3), leaf(5, 4)
      assert.is_true(gradcheck(function(x, y) return luann.matmul(x:t(), y:t()) end,
                               { a, b }))
    end)

    it("records its history", function()
      local y = luann.matmul(leaf(2, 3), leaf(3, 2))
      assert.are.equal("MatmulBackward", y.grad_fn)
    end)
  end)

  describe("mm", function()
    it("multiplies matrices", function()
      local a, b = randn(4, 6, { dtype = "float64" }), randn(6, 2, { dtype = "float64" })
      assert_close(values(luann.mm(a, b)), naive_mm(values(a), values(b)), 1e-12)
    end)

    it("accepts only 2-D tensors", function()
      assert.has_error(function() luann.mm(luann.zeros(2, 3, 4), luann.zeros(4, 5)) end,
        "mm: expected 2-D tensors, got shapes (2,3,4) and (4,5)")
      assert.has_error(function() luann.mm(luann.zeros(3, 4), luann.zeros(5, 6)) end,
        "mm: shapes (3,4) and (5,6) cannot be multiplied")
    end)

    it("has gradients", function()
      assert.is_true(gradcheck(luann.mm, { leaf(3, 4), leaf(4, 5) }))
    end)
  end)

  describe("bmm", function()
    it("multiplies batches of matrices", function()
      local a, b = randn(3, 2, 4), randn(3, 4, 5):transpose(2, 3):transpose(2, 3)
      local c = luann.bmm(a, b)
      assert.are.same({ 3, 2, 5 }, c.shape)
      for i = 1, 3 do
        assert_close(values(c)[i], naive_mm(values(a)[i], values(b)[i]), 1e-5)
      end
      local bt = randn(3, 5, 4):transpose(2, 3) -- strided batch members
      local d = luann.bmm(a, bt)
      for i = 1, 3 do
        assert_close(values(d)[i], naive_mm(values(a)[i], values(bt)[i]), 1e-5)
      end
    end)

    it("wants 3-D tensors with equal batch sizes", function()
      assert.has_error(function() luann.bmm(luann.zeros(3, 4), luann.zeros(2, 4, 5)) end,
        "bmm: expected 3-D tensors, got shapes (3,4) and (2,4,5)")
      assert.has_error(function() luann.bmm(luann.zeros(2, 3, 4), luann.zeros(3, 4, 5)) end,
        "bmm: shapes (2,3,4) and (3,4,5) have different batch sizes")
      assert.has_error(function() luann.bmm(luann.zeros(2, 3, 4), luann.zeros(2, 5, 6)) end,
        "bmm: shapes (2,3,4) and (2,5,6) cannot be multiplied")
    end)

    it("has gradients", function()
      assert.is_true(gradcheck(luann.bmm, { leaf(2, 3, 4), leaf(2, 4, 2) }))
    end)
  end)

  describe("addmm", function()
    it("computes beta * c + alpha * a @ b with c broadcast", function()
      local a, b = randn(3, 4, { dtype = "float64" }), randn(4, 5, { dtype = "float64" })
      for _, c in ipairs { randn(3, 5, { dtype = "float64" }), randn(5, { dtype = "float64" }),
                           randn(3, 1, { dtype = "float64" }) } do
        local got = luann.addmm(c, a, b, { beta = 0.5, alpha = 2 })
        local p = naive_mm(values(a), values(b))
        local cv = values(c:expand(3, 5))
        for i = 1, 3 do
          for j = 1, 5 do p[i][j] = 0.5 * cv[i][j] + 2 * p[i][j] end
        end
        assert_close(values(got), p, 1e-12)
      end
      local plain = luann.addmm(luann.ones(3, 5, { dtype = "float64" }), a, b)
      local want = naive_mm(values(a), values(b))
      for i = 1, 3 do for j = 1, 5 do want[i][j] = want[i][j] + 1 end end
      assert_close(values(plain), want, 1e-12)
    end)

    it("ignores c's values when beta is 0, as a method too", function()
      local nan = luann.full({ 2, 2 }, 0 / 0)
      local a, b = randn(2, 3), randn(3, 2)
      assert_close(values(nan:addmm(a, b, { beta = 0 })), naive_mm(values(a), values(b)), 1e-5)
    end)

    it("scales c alone when k is 0", function()
      local c = luann.full({ 2, 3 }, 4.0)
      local r = luann.addmm(c, luann.zeros(2, 0), luann.zeros(0, 3), { beta = 0.5 })
      assert.are.same(luann.full({ 2, 3 }, 2.0):tolist(), r:tolist())
    end)

    it("checks its arguments", function()
      assert.has_error(function() luann.addmm(luann.zeros(4), luann.zeros(3, 4), luann.zeros(4, 5)) end,
        "addmm: input of shape (4,) cannot be broadcast to the product's shape (3,5)")
      assert.has_error(function()
        luann.addmm(luann.zeros(4), luann.zeros(3, 4), luann.zeros(4, 5), { beta = 0 })
      end, "addmm: input of shape (4,) cannot be broadcast to the product's shape (3,5)")
      assert.has_error(function() luann.addmm(luann.zeros(3, 5), luann.zeros(3, 4), luann.zeros(3)) end,
        "addmm: expected 2-D tensors, got shapes (3,4) and (3,)")
      assert.has_error(function()
        luann.addmm(luann.zeros(3, 5), luann.zeros(3, 4), luann.zeros(4, 5), { beta = "x" })
      end, "addmm: option 'beta' must be a number, got string")
    end)

    it("has gradients for c, a and b", function()
      local f = function(c, a, b) return luann.addmm(c, a, b, { beta = 0.5, alpha = -1.5 }) end
      assert.is_true(gradcheck(f, { leaf(3, 5), leaf(3, 4), leaf(4, 5) }))
      assert.is_true(gradcheck(f, { leaf(5), leaf(3, 4), leaf(4, 5) }))
      local g = function(c, a, b) return luann.addmm(c, a, b, { beta = 0 }) end
      assert.is_true(gradcheck(g, { leaf(3, 5), leaf(3, 4), leaf(4, 5) }))
    end)
  end)

  describe("dot", function()
    it("sums elementwise products of vectors, strided too", function()
      local a = randn(10, { dtype = "float64" })[{ { 1, -1, 2 } }]
      local b = randn(5, { dtype = "float64" })
      local want, av, bv = 0, values(a), values(b)
      for i = 1, 5 do want = want + av[i] * bv[i] end
      local d = luann.dot(a, b)
      assert.are.same({}, d.shape)
      assert_close(d:item(), want, 1e-12)
      assert_close(a:dot(b):item(), want, 1e-12)
    end)

    it("wants two 1-D tensors of one length", function()
      assert.has_error(function() luann.dot(luann.zeros(2, 2), luann.zeros(4)) end,
        "dot: expected 1-D tensors, got shapes (2,2) and (4,)")
      assert.has_error(function() luann.dot(luann.zeros(3), luann.zeros(4)) end,
        "dot: shapes (3,) and (4,) cannot be multiplied")
    end)

    it("has gradients", function()
      assert.is_true(gradcheck(luann.dot, { leaf(5), leaf(5) }))
    end)
  end)

  describe("outer", function()
    it("multiplies every pair of elements", function()
      local a, b = randn(3, { dtype = "float64" }), randn(4, { dtype = "float64" })
      local o = luann.outer(a, b)
      assert.are.same({ 3, 4 }, o.shape)
      local av, bv = values(a), values(b)
      for i = 1, 3 do
        for j = 1, 4 do assert_close(o:tolist()[i][j], av[i] * bv[j], 1e-12) end
      end
    end)

    it("wants 1-D tensors", function()
      assert.has_error(function() luann.outer(luann.zeros(3), luann.zeros(2, 2)) end,
        "outer: expected 1-D tensors, got shapes (3,) and (2,2)")
    end)

    it("has gradients", function()
      assert.is_true(gradcheck(luann.outer, { leaf(3), leaf(4) }))
    end)
  end)

  describe("linear", function()
    -- x @ w^T + b, the naive way
    local function naive_linear(x, w, b)
      local wt = {}
      for i = 1, #w[1] do
        wt[i] = {}
        for j = 1, #w do wt[i][j] = w[j][i] end
      end
      local y = naive_mm(x, wt)
      for i = 1, #y do
        for j = 1, #y[i] do y[i][j] = y[i][j] + (b and b[j] or 0) end
      end
      return y
    end

    it("computes x @ w^T + b for (N,in) inputs", function()
      local x, w, b = randn(6, 5), randn(3, 5), randn(3)
      local y = luann.linear(x, w, b)
      assert.are.same({ 6, 3 }, y.shape)
      assert_close(values(y), naive_linear(values(x), values(w), values(b)), 1e-5)
      assert_close(values(luann.linear(x, w)), naive_linear(values(x), values(w)), 1e-5)
    end)

    it("takes (..., in) and 1-D inputs", function()
      local x, w, b = randn(2, 4, 5), randn(3, 5), randn(3)
      local y = luann.linear(x, w, b)
      assert.are.same({ 2, 4, 3 }, y.shape)
      for i = 1, 2 do
        assert_close(values(y)[i], naive_linear(values(x)[i], values(w), values(b)), 1e-5)
      end
      local v = randn(5)
      local yv = luann.linear(v, w, b)
      assert.are.same({ 3 }, yv.shape)
      assert_close(values(yv), naive_linear({ values(v) }, values(w), values(b))[1], 1e-5)
    end)

    it("checks shapes", function()
      assert.has_error(function() luann.linear(luann.zeros(2, 3), luann.zeros(4, 5)) end,
        "linear: input of shape (2,3) does not match weight of shape (4,5) (expected a last dim of 5)")
      assert.has_error(function() luann.linear(luann.zeros(2, 5), luann.zeros(4, 5), luann.zeros(3)) end,
        "linear: bias of shape (3,) does not match weight of shape (4,5) (expected (4,))")
      assert.has_error(function() luann.linear(luann.zeros(2, 5), luann.zeros(5)) end,
        "linear: expected a 2-D weight, got shape (5,)")
    end)

    it("has gradients for x, w and b", function()
      assert.is_true(gradcheck(luann.linear, { leaf(4, 3), leaf(2, 3), leaf(2) }))
      assert.is_true(gradcheck(luann.linear, { leaf(2, 3, 3), leaf(2, 3), leaf(2) }))
      assert.is_true(gradcheck(luann.linear, { leaf(3), leaf(2, 3), leaf(2) }))
      assert.is_true(gradcheck(function(x, w) return luann.linear(x, w) end,
                               { leaf(4, 3), leaf(2, 3) }))
      local y = luann.linear(leaf(2, 3), leaf(4, 3), leaf(4))
      assert.are.equal("LinearBackward", y.grad_fn)
    end)
  end)

  describe("threads", function()
    it("sets and reports the thread count, with the same results", function()
      local before = luann.get_num_threads()
      assert.is_true(before >= 1)
      local a, b = randn(70, 90, { dtype = "float64" }), randn(90, 40, { dtype = "float64" })
      local many = luann.matmul(a, b)
      luann.set_num_threads(1)
      assert.are.equal(1, luann.get_num_threads())
      local one = luann.matmul(a, b)
      local bm = luann.matmul(randn(16, 8, 8), randn(16, 8, 8)) -- batch path
      assert.are.same({ 16, 8, 8 }, bm.shape)
      luann.set_num_threads(before)
      assert.are.equal(before, luann.get_num_threads())
      assert_close(values(one), values(many), 1e-12)
    end)

    it("rejects counts below 1", function()
      assert.has_error(function() luann.set_num_threads(0) end,
        "bad argument #1 to 'set_num_threads' (expected a thread count from 1 to 4096)")
    end)
  end)
end)
