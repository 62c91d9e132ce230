-- Reductions: values against float64 references computed here in Lua
-- (loops over tolist()), strided inputs, keepdim shapes, every dtype, empty
-- and 0-dim tensors, error messages, and finite-difference gradient checks.
local luann = require "luann"

local F32, F64 = { dtype = "float32" }, { dtype = "float64" }
local inf, nan = math.huge, 0 / 0

local helpers = require "helpers"
local flat, values, is_nan = helpers.flat, helpers.values, helpers.is_nan

local function shape(t)
  local s = {}
  for i, n in ipairs(t.shape) do s[i] = n end
  return s
end

-- Every element of t within atol + rtol * |ref| of ref (NaN matches NaN).
local function assert_close(t, ref, rtol, atol)
  helpers.assert_close(t, ref, rtol or 1e-5, atol or 1e-6)
end

-- Reference reduction of row-major values `v` of shape `s` along dim d
-- (1-based): f(list of the reduced values) for each output, row-major.
local function ref_dim(v, s, d, f)
  local outer, n, inner = 1, s[d], 1
  for i = 1, d - 1 do outer = outer * s[i] end
  for i = d + 1, #s do inner = inner * s[i] end
  local out = {}
  for o = 0, outer - 1 do
    for i = 0, inner - 1 do
      local list = {}
      for k = 0, n - 1 do list[#list + 1] = v[o * n * inner + k * inner + i + 1] end
      out[#out + 1] = f(list)
    end
  end
  return out
end

local function rsum(l) local s = 0 for _, x in ipairs(l) do s = s + x end return s end
local function rmean(l) return rsum(l) / #l end
local function rprod(l) local p = 1 for _, x in ipairs(l) do p = p * x end return p end
local function rmax(l)
  local m, k = l[1], 1
  for i, x in ipairs(l) do if x > m then m, k = x, i end end
  return m, k
end
local function rmin(l)
  local m, k = l[1], 1
  for i, x in ipairs(l) do if x < m then m, k = x, i end end
  return m, k
end
local function rargmax(l) return select(2, rmax(l)) end
local function rargmin(l) return select(2, rmin(l)) end
local function rlse(l)
  local m = rmax(l)
  local s = 0
  for _, x in ipairs(l) do s = s + math.exp(x - m) end
  return m + math.log(s)
end
local function rvar(c)
  return function(l)
    local m, s = rmean(l), 0
    for _, x in ipairs(l) do s = s + (x - m) ^ 2 end
    return s / math.max(0, #l - c)
  end
end
local function rnorm(p)
  return function(l)
    if p == inf then
      local m = 0
      for _, x in ipairs(l) do m = math.max(m, math.abs(x)) end
      return m
    end
    local s = 0
    for _, x in ipairs(l) do s = s + math.abs(x) ^ p end
    return s ^ (1 / p)
  end
end

local randn = luann.randn

local gradcheck = luann.autograd.gradcheck

local function leaf(...)
  return luann.randn(...):double():requires_grad_()
end

describe("reduce", function()
  before_each(function() luann.manual_seed(20261128) end)

  describe("sum", function()
    it("sums every element, one dim, or several dims", function()
      local x = randn(3, 4, 5)
      local v, s = values(x), shape(x)
      assert_close(x:sum(), { rsum(v) })
      assert.are.same({}, shape(x:sum()))
      for d = 1, 3 do
        local r = x:sum(d)
        assert_close(r, ref_dim(v, s, d, rsum))
        assert_close(luann.sum(x, d - 4), ref_dim(v, s, d, rsum)) -- negative dims
      end
      local both = ref_dim(ref_dim(v, s, 1, rsum), { 4, 5 }, 2, rsum)
      assert_close(x:sum({ 1, 3 }), both)
      assert.are.same({ 4 }, shape(x:sum({ 1, 3 })))
      assert.are.same({ 1, 4, 1 }, shape(x:sum({ 3, 1 }, true)))
      assert_close(x:sum({ 1, 2, 3 }), { rsum(v) })
    end)

    it("keeps reduced dims as 1 with keepdim", function()
      local x = randn(2, 3)
      assert.are.same({ 1, 3 }, shape(x:sum(1, true)))
      assert.are.same({ 2, 1 }, shape(x:sum(2, true)))
      assert.are.same({ 3 }, shape(x:sum(1, false)))
      assert.are.same({ 2 }, shape(x:sum(-1)))
    end)

    it("reduces transposed and sliced inputs", function()
      local base = randn(6, 7)
      local views = { base:t(), base:narrow(2, 2, 4), base:narrow(1, 2, 3):t(),
                      base:select(2, 3) }
      for _, x in ipairs(views) do
        local v, s = values(x), shape(x)
        assert_close(x:sum(), { rsum(v) })
        for d = 1, #s do assert_close(x:sum(d), ref_dim(v, s, d, rsum)) end
      end
      local x = randn(4, 5, 6):permute(3, 1, 2)
      local v, s = values(x), shape(x)
      assert_close(x:sum({ 1, 3 }),
                   ref_dim(ref_dim(v, s, 1, rsum), { s[2], s[3] }, 2, rsum))
      assert_close(x:sum(), { rsum(v) })
    end)

    it("reduces large rows and columns (parallel and blocked paths)", function()
      local x = randn(300, 257)
      local v, s = values(x), shape(x)
      assert_close(x:sum(1), ref_dim(v, s, 1, rsum), 1e-5, 1e-4)
      assert_close(x:sum(2), ref_dim(v, s, 2, rsum), 1e-5, 1e-4)
      assert_close(x:t():sum(2), ref_dim(v, s, 1, rsum), 1e-5, 1e-4)
      local long = randn(200003)
      local lv = values(long)
      local abs = 0
      for _, a in ipairs(lv) do abs = abs + math.abs(a) end
      assert_close(long:sum(), { rsum(lv) }, 0, 1e-7 * abs)
      assert_close(long:double():sum(), { rsum(lv) }, 0, 1e-12 * abs)
    end)

    it("sums 1e7 float32 ones exactly", function()
      local ones = luann.ones(10000000)
      assert.are.equal(10000000, ones:sum():item())
      assert.are.equal(1, ones:mean():item())
      assert.are.equal(10000000, ones:view(1000, 10000):sum(1):sum():item())
    end)

    it("gives int64 for integer and bool input and keeps float dtypes", function()
      assert.are.equal("float32", randn(3):sum().dtype)
      assert.are.equal("float64", randn(3, F64):sum().dtype)
      local i = luann.tensor({ { 1, 2 }, { 3, 4 } })
      assert.are.equal("int64", i:sum().dtype)
      assert.are.equal(10, i:sum():item())
      assert.are.same({ 4, 6 }, values(i:sum(1)))
      local u = luann.tensor({ 200, 100, 50 }, { dtype = "uint8" })
      assert.are.equal("int64", u:sum().dtype)
      assert.are.equal(350, u:sum():item()) -- no uint8 wrap-around
      local b = luann.tensor({ true, false, true })
      assert.are.equal("int64", b:sum().dtype)
      assert.are.equal(2, b:sum():item())
      local big = luann.tensor({ 4611686018427387904, 4611686018427387903 })
      assert.are.equal(9223372036854775807, big:sum():item()) -- exact int64
    end)

    it("sums empty tensors to 0 and 0-dim tensors to themselves", function()
      assert.are.equal(0, luann.zeros(0):sum():item())
      local e = luann.zeros(0, 3)
      assert.are.same({ 0, 0, 0 }, values(e:sum(1)))
      assert.are.same({ 0 }, shape(e:sum(2)))
      local s = luann.tensor(2.5)
      assert.are.equal(2.5, s:sum():item())
      assert.are.equal(2.5, s:sum(1):item())
      assert.are.equal(2.5, s:sum(-1, true):item())
      assert.are.same({}, shape(s:sum(1, true)))
    end)

    it("rejects bad dims", function()
      local x = luann.ones(2, 3)
      assert.has_error(function() x:sum(3) end,
                       "sum: dim 3 out of range for a tensor of 2 dims")
      assert.has_error(function() x:sum(-3) end,
                       "sum: dim -3 out of range for a tensor of 2 dims")
      assert.has_error(function() x:sum({ 1, -2 }) end,
                       "sum: dim 1 appears more than once in the list of dims")
      assert.has_error(function() x:sum({ 1, "a" }) end, "sum: dims must be integers")
      local ok, err = pcall(x.sum, x, 0)
      assert.is_false(ok)
      assert.matches("dim 0 is invalid: dims are 1%-based", err)
      ok, err = pcall(x.sum, x, 1, 1)
      assert.is_false(ok)
      assert.matches("boolean expected", err)
      ok, err = pcall(luann.sum, 3)
      assert.is_false(ok)
      assert.matches("tensor expected", err)
    end)

    it("has a gradient", function()
      local x = leaf(3, 4)
      assert.is_true(gradcheck(function(a) return a:sum() end, { x }))
      assert.is_true(gradcheck(function(a) return a:sum(1) end, { x }))
      assert.is_true(gradcheck(function(a) return a:sum(2, true) end, { x }))
      assert.is_true(gradcheck(function(a) return a:t():sum(2) end, { x }))
      local y = leaf(2, 3, 4)
      assert.is_true(gradcheck(function(a) return a:sum({ 1, 3 }) end, { y }))
      assert.are.equal("SumBackward", y:sum().grad_fn)
    end)

    it("sums broadcast gradients back to each input's shape", function()
      local a = luann.randn(4, 3, F64):requires_grad_()
      local b = luann.randn(3, F64):requires_grad_()
      local c = luann.randn(4, 1, F64):requires_grad_()
      local out = a + b + c
      out:backward(luann.ones(4, 3, F64))
      assert.are.same({ 4, 4, 4 }, values(b.grad))
      assert.are.same({ 3, 3, 3, 3 }, values(c.grad))
      assert.are.same({ 4, 1 }, shape(c.grad))
      assert.is_true(gradcheck(function(p, q) return p * q end,
                               { luann.randn(2, 3, 4, F64):requires_grad_(),
                                 luann.randn(3, 1, F64):requires_grad_() }))
    end)
  end)

  describe("mean", function()
    it("averages every element, a dim or several dims", function()
      local x = randn(3, 5)
      local v, s = values(x), shape(x)
      assert_close(x:mean(), { rmean(v) })
      assert_close(x:mean(1), ref_dim(v, s, 1, rmean))
      assert_close(x:t():mean(1), ref_dim(v, s, 2, rmean))
      assert_close(x:mean({ 1, 2 }), { rmean(v) })
      assert.are.same({ 3, 1 }, shape(x:mean(2, true)))
    end)

    it("wants floats and gives NaN for no elements", function()
      assert.has_error(function() luann.tensor({ 1, 2 }):mean() end,
                       "mean: expected a float tensor, got int64")
      assert.has_error(function() luann.tensor({ true }):mean() end,
                       "mean: expected a float tensor, got bool")
      assert.is_true(is_nan(luann.zeros(0):mean():item()))
      assert.are.equal("float64", randn(2, F64):mean().dtype)
    end)

    it("has a gradient", function()
      local x = leaf(3, 4)
      assert.is_true(gradcheck(function(a) return a:mean() end, { x }))
      assert.is_true(gradcheck(function(a) return a:mean(2) end, { x }))
      assert.is_true(gradcheck(function(a) return a:mean({ 1, 2 }, true) end, { x }))
    end)
  end)

  describe("prod", function()
    it("multiplies every element or along a dim", function()
      local x = randn(3, 4)
      local v, s = values(x), shape(x)
      assert_close(x:prod(), { rprod(v) })
      assert_close(x:prod(1), ref_dim(v, s, 1, rprod))
      assert_close(x:t():prod(1), ref_dim(v, s, 2, rprod))
      assert.are.equal(1, luann.zeros(0):prod():item())
      local i = luann.tensor({ 2, 3, 4 })
      assert.are.equal("int64", i:prod().dtype)
      assert.are.equal(24, i:prod():item())
      assert.are.equal("int64", luann.tensor({ true, true }):prod().dtype)
    end)

    it("has a gradient, zeros included", function()
      local x = luann.tensor({ 0, 2, 3 }, F64):requires_grad_()
      x:prod():backward()
      assert.are.same({ 6, 0, 0 }, values(x.grad))
      local z = luann.tensor({ 0, 2, 0 }, F64):requires_grad_()
      z:prod():backward()
      assert.are.same({ 0, 0, 0 }, values(z.grad))
      local m = luann.tensor({ { 1, 0, 3 }, { 2, 4, 5 }, { 0, 0, 1 } }, F64):requires_grad_()
      assert.is_true(gradcheck(function(a) return a:prod(2) end, { m }))
      assert.is_true(gradcheck(function(a) return a:prod(1) end, { m }))
      assert.is_true(gradcheck(function(a) return a:prod() end, { leaf(2, 3) }))
    end)
  end)

  describe("max and min", function()
    it("give the 0-dim extreme of every element", function()
      local x = randn(4, 5)
      local v = values(x)
      assert.are.same({}, shape(x:max()))
      assert_close(x:max(), { (rmax(v)) })
      assert_close(x:min(), { (rmin(v)) })
      assert_close(x:t():max(), { (rmax(v)) })
    end)

    it("give values and 1-based int64 indices along a dim", function()
      local x = randn(4, 5)
      local v, s = values(x), shape(x)
      for d = 1, 2 do
        local mv, mi = x:max(d)
        assert_close(mv, ref_dim(v, s, d, function(l) return (rmax(l)) end))
        assert.are.equal("int64", mi.dtype)
        assert.are.same(ref_dim(v, s, d, rargmax), values(mi))
        local nv, ni = luann.min(x, d, true)
        assert_close(nv, ref_dim(v, s, d, function(l) return (rmin(l)) end))
        assert.are.same(ref_dim(v, s, d, rargmin), values(ni))
        assert.are.same(d == 1 and { 1, 5 } or { 4, 1 }, shape(ni))
      end
      local tv, ti = x:t():max(2) -- column maxima of x
      assert.are.same(ref_dim(v, s, 1, rargmax), values(ti))
      assert_close(tv, ref_dim(v, s, 1, function(l) return (rmax(l)) end))
    end)

    it("take the first of equal extremes and propagate NaN", function()
      local x = luann.tensor({ { 1, 3, 3 }, { 2, 2, 0 } })
      local _, i = x:max(2)
      assert.are.same({ 2, 1 }, values(i))
      local _, j = x:min(1)
      assert.are.same({ 1, 2, 2 }, values(j))
      local n = luann.tensor({ 1, nan, 5, nan })
      local mv, mi = n:max(1)
      assert.is_true(is_nan(mv:item()))
      assert.are.equal(2, mi:item())
      assert.is_true(is_nan(n:min():item()))
      assert.are.equal(2, n:argmin():item())
    end)

    it("keep the dtype", function()
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8" }) do
        local x = luann.tensor({ { 3, 7, 1 }, { 9, 2, 4 } }, { dtype = dt })
        assert.are.equal(dt, x:max().dtype)
        assert.are.equal(9, x:max():item())
        assert.are.equal(1, x:min():item())
        local v, i = x:min(2)
        assert.are.equal(dt, v.dtype)
        assert.are.same({ 1, 2 }, values(v))
        assert.are.same({ 3, 2 }, values(i))
      end
      local b = luann.tensor({ false, true, false })
      assert.are.equal("bool", b:max().dtype)
      assert.is_true(b:max():item())
      assert.is_false(b:min():item())
      local big = luann.tensor({ 9007199254740993, 9007199254740992 })
      assert.are.equal(9007199254740993, big:max():item()) -- exact int64
    end)

    it("compare two tensors elementwise", function()
      local a = luann.tensor({ 1, 5, 3 })
      local b = luann.tensor({ 4, 2, 3 })
      assert.are.same({ 4, 5, 3 }, values(luann.max(a, b)))
      assert.are.same({ 1, 2, 3 }, values(a:min(b)))
    end)

    it("refuse empty reductions and work on 0-dim tensors", function()
      local e = luann.zeros(0, 3)
      assert.has_error(function() e:max() end,
                       "max: cannot reduce an empty tensor (no identity); give a dim")
      assert.has_error(function() e:min(1) end,
                       "min: cannot reduce dim 1 of size 0 (no identity)")
      local v, i = e:max(2)
      assert.are.same({ 0 }, shape(v))
      assert.are.same({ 0 }, shape(i))
      local s = luann.tensor(4.5)
      local sv, si = s:max(1)
      assert.are.equal(4.5, sv:item())
      assert.are.equal(1, si:item())
      assert.are.equal(4.5, s:min():item())
    end)

    it("send the gradient to the index along a dim", function()
      local x = luann.tensor({ { 1, 3, 3 }, { 5, 0, 5 } }, F64):requires_grad_()
      local v = x:max(2)
      v:sum():backward()
      assert.are.same({ 0, 1, 0, 1, 0, 0 }, values(x.grad))
      assert.is_true(gradcheck(function(a) return (a:max(1)) end, { leaf(3, 4) }))
      assert.is_true(gradcheck(function(a) return (a:min(2, true)) end, { leaf(3, 4) }))
      assert.is_true(gradcheck(function(a) return (a:t():max(2)) end, { leaf(3, 4) }))
    end)

    it("split the gradient of the all-element extreme among ties", function()
      local x = luann.tensor({ 1, 3, 3 }, F64):requires_grad_()
      x:max():backward()
      assert.are.same({ 0, 0.5, 0.5 }, values(x.grad))
      local y = luann.tensor({ { 2, 1 }, { 1, 4 } }, F64):requires_grad_()
      y:amin({ 1, 2 }):backward()
      assert.are.same({ 0, 0.5, 0.5, 0 }, values(y.grad))
      assert.is_true(gradcheck(function(a) return a:max() end, { leaf(3, 4) }))
      assert.is_true(gradcheck(function(a) return a:min() end, { leaf(3, 4) }))
      assert.is_true(gradcheck(function(a) return a:amax({ 1, 3 }) end, { leaf(2, 3, 4) }))
    end)
  end)

  describe("argmax and argmin", function()
    it("give 1-based int64 indices, flat over every element", function()
      local x = randn(4, 6)
      local v, s = values(x), shape(x)
      assert.are.equal("int64", x:argmax().dtype)
      assert.are.equal(rargmax(v), x:argmax():item())
      assert.are.equal(rargmin(v), x:argmin():item())
      assert.are.same(ref_dim(v, s, 1, rargmax), values(x:argmax(1)))
      assert.are.same(ref_dim(v, s, 2, rargmin), values(luann.argmin(x, 2)))
      assert.are.same({ 4, 1 }, shape(x:argmax(2, true)))
      local t = x:t() -- flat index in the transposed order
      assert.are.equal(rargmax(values(t)), t:argmax():item())
      assert.are.equal(rargmin(values(t)), t:argmin():item())
    end)

    it("take every dtype", function()
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8" }) do
        local x = luann.tensor({ 3, 7, 1, 7 }, { dtype = dt })
        assert.are.equal(2, x:argmax():item())
        assert.are.equal(3, x:argmin(1):item())
      end
      assert.are.equal(2, luann.tensor({ false, true, true }):argmax():item())
    end)

    it("refuse empty tensors", function()
      assert.has_error(function() luann.zeros(0):argmax() end,
                       "argmax: cannot reduce an empty tensor (no identity); give a dim")
      assert.are.equal(1, luann.tensor(3):argmax():item())
    end)
  end)

  describe("logsumexp", function()
    it("matches log(sum(exp(x))) and stays finite for large inputs", function()
      local x = randn(3, 7)
      local v, s = values(x), shape(x)
      assert_close(x:logsumexp(), { rlse(v) })
      assert_close(x:logsumexp(1), ref_dim(v, s, 1, rlse))
      assert_close(x:logsumexp(2, true), ref_dim(v, s, 2, rlse))
      assert_close(x:t():logsumexp(1), ref_dim(v, s, 2, rlse))
      local big = luann.tensor({ 1000, 1000, -inf })
      assert_close(big:logsumexp(), { 1000 + math.log(2) })
      assert.are.equal(-inf, luann.tensor({ -inf, -inf }):logsumexp():item())
      assert.are.equal(inf, luann.tensor({ inf, 1 }):logsumexp():item())
      assert.is_true(is_nan(luann.tensor({ 1, nan }):logsumexp():item()))
      assert.are.equal(-inf, luann.zeros(0):logsumexp():item())
      local long = randn(100000) * 3
      assert_close(long:logsumexp(), { rlse(values(long)) })
    end)

    it("turns integers into float32", function()
      local r = luann.tensor({ 1, 2 }):logsumexp()
      assert.are.equal("float32", r.dtype)
      assert_close(r, { rlse({ 1, 2 }) })
    end)

    it("has a gradient", function()
      assert.is_true(gradcheck(function(a) return a:logsumexp(2) end, { leaf(3, 4) }))
      assert.is_true(gradcheck(function(a) return a:logsumexp() end, { leaf(3, 4) }))
    end)
  end)

  describe("any and all", function()
    it("give bool for every dtype", function()
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8", "bool" }) do
        local x = luann.tensor({ { 0, 1 }, { 0, 0 } }, { dtype = dt })
        assert.are.equal("bool", x:any().dtype)
        assert.is_true(x:any():item())
        assert.is_false(x:all():item())
        assert.are.same({ false, true }, values(x:any(1)))
        assert.are.same({ true, false }, values(x:any(2)))
        assert.are.same({ false, false }, values(x:all(2)))
      end
      assert.is_true(luann.tensor({ nan }):all():item()) -- NaN is not zero
    end)

    it("follow the identities on empty tensors", function()
      assert.is_false(luann.zeros(0):any():item())
      assert.is_true(luann.zeros(0):all():item())
    end)
  end)

  describe("var and std", function()
    it("use the correction (1 by default)", function()
      local x = randn(4, 6)
      local v, s = values(x), shape(x)
      assert_close(x:var(), { rvar(1)(v) })
      assert_close(x:std(), { math.sqrt(rvar(1)(v)) })
      assert_close(x:var(1), ref_dim(v, s, 1, rvar(1)))
      assert_close(x:var(2, true, { correction = 0 }), ref_dim(v, s, 2, rvar(0)))
      assert.are.same({ 4, 1 }, shape(x:std(2, true)))
      assert_close(x:var(false), { rvar(0)(v) })
      assert_close(x:var({ unbiased = false }), { rvar(0)(v) })
      assert_close(x:std(1, false, { correction = 2 }),
                   ref_dim(v, s, 1, function(l) return math.sqrt(rvar(2)(l)) end))
      assert_close(x:t():std(2), ref_dim(v, s, 1, function(l) return math.sqrt(rvar(1)(l)) end))
    end)

    it("handle too few elements and constant input like PyTorch", function()
      assert.is_true(is_nan(luann.tensor({ 1.5 }):var():item()))
      assert.are.equal(inf, luann.tensor({ 1, 2 }, F64):var({ correction = 3 }):item())
      assert.are.equal(0, luann.ones(3):std():item())
    end)

    it("want floats and check options", function()
      assert.has_error(function() luann.tensor({ 1, 2 }):var() end,
                       "var: expected a float tensor, got int64")
      assert.has_error(function() luann.tensor({ 1, 2 }):std() end,
                       "std: expected a float tensor, got int64")
      assert.has_error(function() luann.ones(2):var({ correction = -1 }) end,
                       "var: correction must be a non-negative integer")
      assert.has_error(function() luann.ones(2):std({ unbiased = 1 }) end,
                       "std: unbiased must be a boolean")
    end)

    it("have gradients", function()
      assert.is_true(gradcheck(function(a) return a:var() end, { leaf(3, 4) }))
      assert.is_true(gradcheck(function(a) return a:var(1, false, { correction = 0 }) end,
                               { leaf(3, 4) }))
      assert.is_true(gradcheck(function(a) return a:std(2) end, { leaf(3, 4) }))
      assert.is_true(gradcheck(function(a) return a:t():std(2, true) end, { leaf(3, 4) }))
      local c = luann.ones(3, F64):requires_grad_()
      c:std():backward()
      assert.are.same({ 0, 0, 0 }, values(c.grad))
    end)
  end)

  describe("norm", function()
    it("computes p-norms over every element or a dim", function()
      local x = randn(3, 5)
      local v, s = values(x), shape(x)
      assert_close(x:norm(), { rnorm(2)(v) })
      assert_close(x:norm("fro"), { rnorm(2)(v) })
      assert_close(x:norm(1), { rnorm(1)(v) })
      assert_close(x:norm(3), { rnorm(3)(v) })
      assert_close(x:norm(0.5), { rnorm(0.5)(v) }, 1e-4)
      assert_close(x:norm(inf), { rnorm(inf)(v) })
      assert_close(x:norm("inf"), { rnorm(inf)(v) })
      assert_close(x:norm(2, 1), ref_dim(v, s, 1, rnorm(2)))
      assert_close(x:norm(1, 2, true), ref_dim(v, s, 2, rnorm(1)))
      assert.are.same({ 3, 1 }, shape(x:norm(1, 2, true)))
      assert_close(x:t():norm(inf, 1), ref_dim(v, s, 2, rnorm(inf)))
      local m = luann.tensor({ { -3, 0.5 }, { 1, 2 } })
      assert.are.equal(0.5, m:norm(-inf):item())
      assert.are.equal(3, luann.tensor({ -3, 0, 0.5, 1 }):norm(0):item())
      assert.are.equal(0, luann.zeros(0):norm():item())
      assert.are.equal(0, luann.zeros(0):norm(inf):item())
    end)

    it("wants floats and a known p", function()
      assert.has_error(function() luann.tensor({ 1, 2 }):norm() end,
                       "norm: expected a float tensor, got int64")
      assert.has_error(function() luann.ones(2):norm("nuc") end,
                       "norm: unknown norm 'nuc' (expected a number, 'fro', 'inf' or '-inf')")
    end)

    it("has gradients, zeros included", function()
      for _, p in ipairs({ 2, 1, 3, 1.5, inf }) do
        assert.is_true(gradcheck(function(a) return a:norm(p) end, { leaf(3, 4) }))
        assert.is_true(gradcheck(function(a) return a:norm(p, 2) end, { leaf(3, 4) }))
      end
      local z = luann.tensor({ { 0, 0 }, { 3, -4 } }, F64):requires_grad_()
      z:norm(2, 2):sum():backward()
      assert_close(z.grad, { 0, 0, 0.6, -0.8 })
      local w = luann.tensor({ 0, 2, -2 }, F64):requires_grad_()
      w:norm(inf):backward()
      assert.are.same({ 0, 0.5, -0.5 }, values(w.grad))
      local q = luann.tensor({ 0, 2, 3 }, F64):requires_grad_()
      q:norm(0.5):backward()
      assert.are.equal(0, values(q.grad)[1])
    end)
  end)

  describe("softmax and log_softmax", function()
    local function rsoftmax(l)
      local m, s, out = rmax(l), 0, {}
      for _, x in ipairs(l) do s = s + math.exp(x - m) end
      for i, x in ipairs(l) do out[i] = math.exp(x - m) / s end
      return out
    end

    -- softmax reference along dim d, in the input's row-major order.
    local function ref_softmax(v, s, d, log)
      local out, outer, n, inner = {}, 1, s[d], 1
      for i = 1, d - 1 do outer = outer * s[i] end
      for i = d + 1, #s do inner = inner * s[i] end
      for o = 0, outer - 1 do
        for i = 0, inner - 1 do
          local list = {}
          for k = 0, n - 1 do list[#list + 1] = v[o * n * inner + k * inner + i + 1] end
          for k, y in ipairs(rsoftmax(list)) do
            out[o * n * inner + (k - 1) * inner + i + 1] = log and math.log(y) or y
          end
        end
      end
      return out
    end

    it("normalize along each dim, strided inputs included", function()
      for _, dt in ipairs({ "float32", "float64" }) do
        local x = randn(3, 4, 5, { dtype = dt })
        local inputs = { x, x:permute(3, 1, 2), x:narrow(3, 2, 3) }
        for _, t in ipairs(inputs) do
          local v, s = values(t), shape(t)
          for d = 1, 3 do
            assert_close(t:softmax(d), ref_softmax(v, s, d, false))
            assert_close(t:log_softmax(d), ref_softmax(v, s, d, true))
          end
          assert_close(luann.softmax(t, -1), ref_softmax(v, s, 3, false))
        end
      end
    end)

    it("handle wide rows and many rows", function()
      local x = randn(64, 10)
      assert_close(x:softmax(2), ref_softmax(values(x), { 64, 10 }, 2, false))
      local w = randn(37, 1030) * 4
      local wv = values(w)
      assert_close(w:softmax(2), ref_softmax(wv, { 37, 1030 }, 2, false), 1e-5, 1e-7)
      assert_close(w:log_softmax(1), ref_softmax(wv, { 37, 1030 }, 1, true), 1e-5, 1e-5)
      local rows = w:softmax(2):sum(2)
      assert_close(rows, (function() local o = {} for i = 1, 37 do o[i] = 1 end return o end)())
    end)

    it("are stable for large inputs and follow PyTorch on infinities", function()
      local big = luann.tensor({ 1000, 1000, 0 }, F32)
      assert_close(big:softmax(1), { 0.5, 0.5, 0 })
      assert_close(big:log_softmax(1), { -math.log(2), -math.log(2), -1000 - math.log(2) })
      local masked = luann.tensor({ -inf, 1, 1 })
      assert_close(masked:softmax(1), { 0, 0.5, 0.5 })
      local dead = values(luann.tensor({ -inf, -inf }):softmax(1))
      assert.is_true(is_nan(dead[1]) and is_nan(dead[2]))
      assert.are.same({ 1 }, values(luann.tensor({ 7.5 }):softmax(1)))
      assert.are.equal(1, luann.tensor(3.5):softmax(1):item())
      assert.are.equal(0, luann.tensor(3.5):log_softmax(-1):item())
      assert.are.same({ 0, 3 }, shape(luann.zeros(0, 3):softmax(2)))
    end)

    it("want floats and a dim", function()
      assert.has_error(function() luann.tensor({ 1, 2 }):softmax(1) end,
                       "softmax: expected a float tensor, got int64")
      assert.has_error(function() luann.tensor({ 1, 2 }):log_softmax(1) end,
                       "log_softmax: expected a float tensor, got int64")
      assert.has_error(function() luann.ones(2, 3):softmax(3) end,
                       "softmax: dim 3 out of range for a tensor of 2 dims")
      local ok, err = pcall(luann.softmax, luann.ones(2))
      assert.is_false(ok)
      assert.matches("integer expected, got no value", err)
    end)

    it("have gradients", function()
      for d = 1, 2 do
        assert.is_true(gradcheck(function(a) return a:softmax(d) end, { leaf(3, 4) }))
        assert.is_true(gradcheck(function(a) return a:log_softmax(d) end, { leaf(3, 4) }))
      end
      assert.is_true(gradcheck(function(a) return a:t():log_softmax(2) end, { leaf(3, 4) }))
      assert.is_true(gradcheck(function(a) return a:softmax(2) end, { leaf(2, 3, 4) }))
      assert.are.equal("SoftmaxBackward", leaf(2):softmax(1).grad_fn)
      assert.are.equal("LogSoftmaxBackward", leaf(2):log_softmax(1).grad_fn)
    end)
  end)

  describe("autograd bookkeeping", function()
    it("records nothing under no_grad", function()
      local x = leaf(3)
      local guard <close> = luann.no_grad()
      assert.is_nil(x:sum().grad_fn)
    end)

    it("errors when a saved input changed in place", function()
      local x = leaf(3)
      local y = x * 1
      local p = y:prod()
      y:add_(1)
      local ok, err = pcall(p.backward, p)
      assert.is_false(ok)
      assert.matches("modified by an in%-place operation", err)
    end)
  end)
end)
