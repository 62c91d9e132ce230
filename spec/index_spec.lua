-- Indexing ops: gather, scatter(_add), index_select, index_add, index_fill,
-- masked_fill, masked_select, cat, stack, split, chunk, sort, argsort, topk,
-- one_hot, and the in-place forms. Values are checked against naive Lua
-- loops over nested tables (1-based indices, as Lua sees them).
local luann = require "luann"
local gradcheck = luann.autograd.gradcheck

-- ---- helpers --------------------------------------------------------------

local NUMERIC = { "float32", "float64", "int64", "uint8" }
local ALL = { "float32", "float64", "int64", "uint8", "bool" }

local function f64(v, grad)
  return luann.tensor(v, { dtype = "float64", requires_grad = grad })
end

local function long(v) return luann.tensor(v, { dtype = "int64" }) end

-- A small deterministic generator, independent of luann's.
local seed = 12345
local function rand_int(lo, hi)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return lo + seed % (hi - lo + 1)
end

local function shape_of(list)
  local shape = {}
  while type(list) == "table" do
    shape[#shape + 1] = #list
    list = list[1]
  end
  return shape
end

-- Calls fn(ix) for every 1-based multi-index of shape, row-major.
local function each_index(shape, fn)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  for flat = 0, n - 1 do
    local ix, r = {}, flat
    for d = #shape, 1, -1 do
      ix[d] = r % shape[d] + 1
      r = r // shape[d]
    end
    fn(ix)
  end
end

local function get(list, ix)
  for _, i in ipairs(ix) do list = list[i] end
  return list
end

local function set(list, ix, v)
  for k = 1, #ix - 1 do list = list[ix[k]] end
  list[ix[#ix]] = v
end

local function filled(shape, v, d)
  d = d or 1
  if d > #shape then return v end
  local t = {}
  for i = 1, shape[d] do t[i] = filled(shape, v, d + 1) end
  return t
end

local function deep_copy(list)
  if type(list) ~= "table" then return list end
  local t = {}
  for i, v in ipairs(list) do t[i] = deep_copy(v) end
  return t
end

local function with(ix, d, v)
  local r = { table.unpack(ix) }
  r[d] = v
  return r
end

-- Random nested values of shape for a dtype (booleans for bool).
local function random_list(shape, dtype, lo, hi)
  local t = filled(shape, 0)
  each_index(shape, function(ix)
    local v = rand_int(lo or 0, hi or 9)
    if dtype == "bool" then v = v % 2 == 1 end
    set(t, ix, v)
  end)
  return t
end

local function transpose2(list)
  local t = {}
  for i = 1, #list[1] do
    t[i] = {}
    for j = 1, #list do t[i][j] = list[j][i] end
  end
  return t
end

-- A tensor holding list's values through transposed strides.
local function noncontig(list, dtype)
  local t = luann.tensor(transpose2(list), { dtype = dtype }):t()
  assert.is_false(t:is_contiguous())
  return t
end

local function add(a, b)
  if type(a) == "boolean" then return a or b end
  return a + b
end

-- ---- references -------------------------------------------------------------

local function ref_gather(a, dim, index)
  local out = filled(shape_of(index), 0)
  each_index(shape_of(index), function(ix)
    set(out, ix, get(a, with(ix, dim, get(index, ix))))
  end)
  return out
end

local function ref_scatter(a, dim, index, src, accumulate)
  local out = deep_copy(a)
  each_index(shape_of(index), function(ix)
    local at = with(ix, dim, get(index, ix))
    local v = src
    if type(src) == "table" then v = get(src, ix) end
    if accumulate then v = add(get(out, at), v) end
    set(out, at, v)
  end)
  return out
end

local function ref_index_select(a, dim, index)
  local shape = shape_of(a)
  shape[dim] = #index
  local out = filled(shape, 0)
  each_index(shape, function(ix) set(out, ix, get(a, with(ix, dim, index[ix[dim]]))) end)
  return out
end

local function ref_index_add(a, dim, index, src, alpha)
  local out = deep_copy(a)
  each_index(shape_of(src), function(ix)
    local at = with(ix, dim, index[ix[dim]])
    set(out, at, get(out, at) + alpha * get(src, ix))
  end)
  return out
end

-- ---- specs ------------------------------------------------------------------

describe("luann indexing", function()
  describe("gather", function()
    it("picks a[i][index[i][j]] along dim 2 and a[index[i][j]][j] along dim 1", function()
      local a = luann.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
      assert.are.same({ { 3, 1 }, { 5, 5 } }, a:gather(2, long({ { 3, 1 }, { 2, 2 } })):tolist())
      assert.are.same({ { 4, 2, 3 } }, luann.gather(a, 1, long({ { 2, 1, 1 } })):tolist())
      assert.are.same({ { 3 } }, a:gather(-1, long({ { 3 } })):tolist())
    end)

    it("matches a loop for every dtype, on non-contiguous input and index", function()
      for _, dt in ipairs(ALL) do
        local a = random_list({ 4, 5 }, dt)
        for dim = 1, 2 do
          local index = random_list({ 3, 4 }, "int64", 1, dim == 1 and 4 or 5)
          local want = ref_gather(a, dim, index)
          assert.are.same(want, luann.tensor(a, { dtype = dt }):gather(dim, long(index)):tolist())
          assert.are.same(want, noncontig(a, dt):gather(dim, noncontig(index, "int64")):tolist())
        end
      end
    end)

    it("works on 3-D tensors and a narrowed input", function()
      local a = random_list({ 3, 4, 5 }, "float64")
      local index = random_list({ 2, 3, 4 }, "int64", 1, 4)
      assert.are.same(ref_gather(a, 2, index), f64(a):gather(2, long(index)):tolist())
      local wide = f64(a):narrow(3, 2, 3)
      local idx = random_list({ 3, 4, 2 }, "int64", 1, 3)
      assert.are.same(ref_gather(wide:tolist(), 3, idx), wide:gather(3, long(idx)):tolist())
    end)

    it("gives empty results for empty indices, and 0-dim for 0-dim", function()
      local r = luann.zeros(2, 3):gather(2, luann.zeros(2, 0, { dtype = "int64" }))
      assert.are.same({ 2, 0 }, r.shape)
      assert.are.equal(7, luann.tensor(7.0):gather(1, luann.tensor(1)):item())
    end)

    it("rejects bad indices and shapes with messages", function()
      local a = luann.zeros(2, 3)
      assert.has_error(function() a:gather(2, long({ { 1, 7 } })) end,
        "gather: index 7 is out of range for dim 2 of size 3")
      assert.has_error(function() a:gather(2, long({ { 0 } })) end,
        "gather: index 0 is out of range for dim 2 of size 3")
      assert.has_error(function() a:gather(1, long({ { 1 }, { 3 } })) end,
        "gather: index 3 is out of range for dim 1 of size 2")
      assert.has_error(function() a:gather(2, long({ { 1 }, { 1 }, { 1 } })) end,
        "gather: index of shape (3,1) does not fit input of shape (2,3) outside dim 2")
      assert.has_error(function() a:gather(2, long({ 1, 2 })) end,
        "gather: index of shape (2,) and input of shape (2,3) must have the same number of dims")
      assert.has_error(function() a:gather(2, luann.tensor({ { 1.0 } })) end,
        "gather: index must be an int64 tensor, got float32")
      assert.has_error(function() a:gather(3, long({ { 1 } })) end,
        "gather: dim 3 out of range for a tensor of 2 dims")
    end)

    it("has a gradient: scatter_add of the output gradient", function()
      local x = f64({ { 1, 2, 3 }, { 4, 5, 6 } }, true)
      local y = x:gather(2, long({ { 1, 1 }, { 3, 2 } }))
      assert.are.equal("GatherBackward", y.grad_fn)
      y:backward(f64({ { 1, 2 }, { 3, 4 } }))
      assert.are.same({ { 3, 0, 0 }, { 0, 4, 3 } }, x.grad:tolist())
      assert.is_true(gradcheck(function(a) return a:t():gather(1, long({ { 2, 1 }, { 1, 1 } })) end,
        { f64(random_list({ 2, 3 }, "float64"), true) }))
    end)
  end)

  describe("scatter and scatter_add", function()
    it("write src at the indices along dim", function()
      local z = luann.zeros(2, 3)
      local index, src = long({ { 3, 1 }, { 2, 2 } }), luann.tensor({ { 10.0, 20 }, { 30, 40 } })
      assert.are.same({ { 20, 0, 10 }, { 0, 40, 0 } }, z:scatter(2, index, src):tolist())
      assert.are.same({ { 20, 0, 10 }, { 0, 70, 0 } }, z:scatter_add(2, index, src):tolist())
      assert.are.same({ { 0, 0, 5 }, { 0, 0, 0 } }, z:scatter(2, long({ { 3 } }), 5):tolist())
      assert.are.same({ { 0, 0, 0 }, { 0, 0, 0 } }, z:tolist()) -- out of place
    end)

    it("match a loop for every dtype, non-contiguous, with src larger than index", function()
      for _, dt in ipairs(ALL) do
        local a = random_list({ 4, 5 }, dt)
        local src = random_list({ 4, 4 }, dt)
        for dim = 1, 2 do
          local index = random_list({ 3, 4 }, "int64", 1, dim == 1 and 4 or 5)
          for _, acc in ipairs({ false, true }) do
            local want = ref_scatter(a, dim, index, src, acc)
            local f = acc and "scatter_add" or "scatter"
            assert.are.same(want, luann[f](luann.tensor(a, { dtype = dt }), dim, long(index),
              luann.tensor(src, { dtype = dt })):tolist())
            local nc = noncontig(a, dt)
            assert.are.same(want, nc[f](nc, dim, noncontig(index, "int64"), noncontig(src, dt)):tolist())
          end
        end
      end
    end)

    it("accumulates repeated indices in order", function()
      local r = luann.zeros(3, { dtype = "float64" }):scatter_add(1, long({ 1, 1, 1, 3 }),
        f64({ 0.5, 0.25, 0.125, 1 }))
      assert.are.same({ 0.875, 0, 1 }, r:tolist())
    end)

    it("reject bad indices and shapes", function()
      local z = luann.zeros(2, 3)
      assert.has_error(function() z:scatter(2, long({ { 4 } }), 1) end,
        "scatter: index 4 is out of range for dim 2 of size 3")
      assert.has_error(function() z:scatter_add(1, long({ { 3 } }), luann.ones(1, 1)) end,
        "scatter_add: index 3 is out of range for dim 1 of size 2")
      assert.has_error(function() z:scatter(2, long({ { 1, 2 }, { 1, 2 } }), luann.ones(2, 1)) end,
        "scatter: index of shape (2,2) does not fit src of shape (2,1)")
      assert.has_error(function() z:scatter(2, long({ { 1 }, { 1 }, { 1 } }), luann.ones(3, 1)) end,
        "scatter: index of shape (3,1) does not fit input of shape (2,3) outside dim 2")
      assert.has_error(function() z:scatter(2, long({ 1 }), luann.ones(1)) end,
        "scatter: index of shape (1,), input of shape (2,3) and src of shape (1,) must have the same number of dims")
    end)

    it("scatter_ and scatter_add_ work in place, also on non-contiguous tensors", function()
      local z = luann.zeros(2, 3)
      assert.are.equal(z, z:scatter_(2, long({ { 2 }, { 3 } }), 7))
      assert.are.same({ { 0, 7, 0 }, { 0, 0, 7 } }, z:tolist())
      local t = luann.zeros(3, 2):t()
      t:scatter_add_(2, long({ { 1, 1 }, { 3, 3 } }), luann.ones(2, 2))
      assert.are.same({ { 2, 0, 0 }, { 0, 0, 2 } }, t:tolist())
    end)

    it("have gradients for the input and src", function()
      -- scatter with repeated indices keeps the last write, so its gradient
      -- check needs distinct ones (as in PyTorch)
      local x = f64(random_list({ 2, 3 }, "float64"), true)
      local s = f64(random_list({ 2, 3 }, "float64"), true)
      assert.is_true(gradcheck(function(a, b) return a:scatter(2, long({ { 3, 1 }, { 2, 3 } }), b) end, { x, s }))
      local index = long({ { 3, 1 }, { 2, 2 } })
      assert.is_true(gradcheck(function(a, b) return a:scatter_add(2, index, b) end, { x, s }))
      assert.is_true(gradcheck(function(a, b)
        local c = a:clone()
        c:scatter_(1, long({ { 2, 1, 2 } }), b)
        return c
      end, { x, s }))
      assert.is_true(gradcheck(function(a, b)
        local c = a:clone()
        c:scatter_add_(1, long({ { 2, 1, 2 } }), b)
        return c
      end, { x, s }))
      local y = x:scatter(2, index, s)
      assert.are.equal("ScatterBackward", y.grad_fn)
      x.grad, s.grad = nil, nil
      y:backward(f64({ { 1, 2, 3 }, { 4, 5, 6 } }))
      assert.are.same({ { 0, 2, 0 }, { 4, 0, 6 } }, x.grad:tolist())
      assert.are.same({ { 3, 1, 0 }, { 5, 5, 0 } }, s.grad:tolist())
    end)

    it("refuse in-place writes to leaves that require grad", function()
      local x = f64({ 1, 2 }, true)
      assert.has_error(function() x:scatter_(1, long({ 1 }), 5) end,
        "a leaf tensor that requires grad is used in an in-place operation (wrap it in luann.no_grad, or use detach)")
    end)
  end)

  describe("index_select", function()
    it("matches a loop for every dtype and dim, non-contiguous too", function()
      for _, dt in ipairs(ALL) do
        local a = random_list({ 4, 5 }, dt)
        for dim = 1, 2 do
          local index = random_list({ 6 }, "int64", 1, dim == 1 and 4 or 5)
          local want = ref_index_select(a, dim, index)
          assert.are.same(want, luann.tensor(a, { dtype = dt }):index_select(dim, long(index)):tolist())
          assert.are.same(want, noncontig(a, dt):index_select(dim, long(index)):tolist())
        end
      end
      local idx = long({ 1, 3, 2, 1 }):narrow(1, 2, 2) -- offset index
      assert.are.same({ { 3, 2 } }, luann.tensor({ { 1, 2, 3 } }):index_select(2, idx):tolist())
    end)

    it("handles empty indices and 0-dim tensors", function()
      assert.are.same({ 3, 0 }, luann.zeros(3, 4):index_select(2, luann.zeros(0, { dtype = "int64" })).shape)
      assert.are.equal(5, luann.tensor(5):index_select(1, long({ 1 })):item())
    end)

    it("rejects bad indices", function()
      local a = luann.zeros(2, 3)
      assert.has_error(function() a:index_select(1, long({ 1, 5 })) end,
        "index_select: index 5 is out of range for dim 1 of size 2")
      assert.has_error(function() a:index_select(1, long({ { 1, 2 } })) end,
        "index_select: index must be 1-D, got shape (1,2)")
    end)

    it("has a gradient: index_add of the output gradient", function()
      local x = f64({ { 1, 2, 3 }, { 4, 5, 6 } }, true)
      local y = x:index_select(2, long({ 3, 3, 1 }))
      y:backward(f64({ { 1, 2, 3 }, { 4, 5, 6 } }))
      assert.are.same({ { 3, 0, 3 }, { 6, 0, 9 } }, x.grad:tolist())
      assert.is_true(gradcheck(function(a) return a:t():index_select(1, long({ 2, 1, 2 })) end,
        { f64(random_list({ 2, 3 }, "float64"), true) }))
    end)
  end)

  describe("index_add", function()
    it("matches a loop for every numeric dtype, with alpha", function()
      for _, dt in ipairs(NUMERIC) do
        local a = random_list({ 4, 3 }, dt)
        local src = random_list({ 5, 3 }, dt)
        local index = random_list({ 5 }, "int64", 1, 4)
        local want = ref_index_add(a, 1, index, src, 2)
        if dt == "uint8" then
          each_index({ 4, 3 }, function(ix) set(want, ix, get(want, ix) % 256) end)
        end
        assert.are.same(want, luann.tensor(a, { dtype = dt }):index_add(1, long(index),
          luann.tensor(src, { dtype = dt }), { alpha = 2 }):tolist())
        assert.are.same(want, noncontig(a, dt):index_add(1, long(index), noncontig(src, dt), 2):tolist())
      end
    end)

    it("works in place, and rejects bad arguments", function()
      local a = luann.zeros(2, 3)
      a:index_add_(2, long({ 3, 3 }), luann.ones(2, 2))
      assert.are.same({ { 0, 0, 2 }, { 0, 0, 2 } }, a:tolist())
      assert.has_error(function() a:index_add(1, long({ 1, 3 }), luann.ones(2, 3)) end,
        "index_add: index 3 is out of range for dim 1 of size 2")
      assert.has_error(function() a:index_add(1, long({ 1, 2 }), luann.ones(3, 3)) end,
        "index_add: src of shape (3,3) has 3 entries in dim 1, but index has 2")
      assert.has_error(function() a:index_add(1, long({ 1, 2 }), luann.ones(2, 4)) end,
        "index_add: src of shape (2,4) does not match input of shape (2,3) outside dim 1")
      assert.has_error(function()
        luann.zeros(2, { dtype = "int64" }):index_add(1, long({ 1 }), long({ 1 }), 0.5)
      end, "index_add: alpha must be an integer for int64 tensors, got 0.5")
      assert.has_error(function() a:index_add(1, long({ 1 }), luann.ones(1, 3), { alpha = "x" }) end,
        "index_add: alpha must be a number, got string")
    end)

    it("has gradients for the input and src (times alpha)", function()
      local x = f64(random_list({ 3, 2 }, "float64"), true)
      local s = f64(random_list({ 4, 2 }, "float64"), true)
      local index = long({ 3, 1, 3, 2 })
      assert.is_true(gradcheck(function(a, b) return a:index_add(1, index, b, { alpha = -1.5 }) end, { x, s }))
      assert.is_true(gradcheck(function(a, b)
        local c = a:clone()
        c:index_add_(1, index, b)
        return c
      end, { x, s }))
    end)
  end)

  describe("index_fill", function()
    it("fills the entries along dim, out of place and in place", function()
      local a = luann.tensor({ { 1.0, 2, 3 }, { 4, 5, 6 } })
      assert.are.same({ { -1, 2, -1 }, { -1, 5, -1 } }, a:index_fill(2, long({ 1, 3 }), -1):tolist())
      a:t():index_fill_(1, long({ 2 }), 0)
      assert.are.same({ { 1, 0, 3 }, { 4, 0, 6 } }, a:tolist())
      assert.has_error(function() a:index_fill(2, long({ 4 }), 0) end,
        "index_fill: index 4 is out of range for dim 2 of size 3")
    end)

    it("has a gradient that is zero at the filled entries", function()
      assert.is_true(gradcheck(function(a) return a:index_fill(1, long({ 2 }), 3) end,
        { f64(random_list({ 3, 2 }, "float64"), true) }))
    end)
  end)

  describe("masked_fill", function()
    it("fills where the (broadcast) mask is true, for every dtype", function()
      local mask = luann.tensor({ true, false, true })
      for _, dt in ipairs(ALL) do
        local a = luann.tensor({ { 1, 0, 3 }, { 4, 5, 0 } }, { dtype = dt })
        local r = a:masked_fill(mask, dt == "bool" and true or 9)
        assert.are.equal(dt, r.dtype)
        local want = luann.tensor({ { 9, 0, 9 }, { 9, 5, 9 } }, { dtype = dt }):tolist()
        assert.are.same(want, r:tolist())
      end
      local r = luann.zeros(3):masked_fill(luann.tensor({ { true, false, false }, { false, false, true } }), 1)
      assert.are.same({ { 1, 0, 0 }, { 0, 0, 1 } }, r:tolist())
      assert.are.same({ 1, 0 }, luann.zeros(2):masked_fill(luann.tensor({ 1, 0 }, { dtype = "uint8" }), 1):tolist())
    end)

    it("works in place on non-contiguous tensors", function()
      local a = luann.zeros(3, 2)
      assert.are.equal(a, a:masked_fill_(luann.tensor({ { true }, { false }, { true } }), 2))
      local t = a:t()
      t:masked_fill_(luann.tensor({ { true, false, false }, { false, false, false } }), 5)
      assert.are.same({ { 5, 2 }, { 0, 0 }, { 2, 2 } }, a:tolist())
    end)

    it("rejects bad masks", function()
      local a = luann.zeros(2, 3)
      assert.has_error(function() a:masked_fill(luann.ones(4):bool(), 1) end,
        "masked_fill: shapes (2,3) and (4,) cannot be broadcast")
      assert.has_error(function() a:masked_fill(luann.ones(3), 1) end,
        "masked_fill: mask must be a bool tensor, got float32")
      assert.has_error(function() luann.zeros(3):masked_fill_(luann.ones(2, 3):bool(), 1) end,
        "masked_fill_: mask of shape (2,3) cannot be broadcast to the tensor's shape (3,)")
    end)

    it("has a gradient that is zero where masked, summed over broadcasting", function()
      local x = f64({ 1, 2, 3 }, true)
      local y = x:masked_fill(luann.tensor({ { true, false, false }, { true, true, false } }), 0)
      assert.are.equal("MaskedFillBackward", y.grad_fn)
      y:backward(luann.ones(2, 3, { dtype = "float64" }))
      assert.are.same({ 0, 1, 2 }, x.grad:tolist())
      assert.is_true(gradcheck(function(a) return a:masked_fill(luann.tensor({ false, true }), 2) end,
        { f64(random_list({ 3, 2 }, "float64"), true) }))
      assert.is_true(gradcheck(function(a)
        local c = a:clone()
        c:masked_fill_(luann.tensor({ false, true }), 2)
        return c
      end, { f64(random_list({ 3, 2 }, "float64"), true) }))
    end)
  end)

  describe("masked_select", function()
    it("returns the selected elements as 1-D, row-major, for every dtype", function()
      for _, dt in ipairs(ALL) do
        local list = random_list({ 3, 4 }, dt)
        local mlist = random_list({ 3, 4 }, "bool")
        local want = {}
        each_index({ 3, 4 }, function(ix) if get(mlist, ix) then want[#want + 1] = get(list, ix) end end)
        assert.are.same(want, luann.tensor(list, { dtype = dt }):masked_select(luann.tensor(mlist)):tolist())
        assert.are.same(want, noncontig(list, dt):masked_select(noncontig(mlist, "bool")):tolist())
      end
    end)

    it("broadcasts the mask and the input", function()
      local a = luann.tensor({ { 1, 2 }, { 3, 4 } })
      assert.are.same({ 1, 3 }, a:masked_select(luann.tensor({ true, false })):tolist())
      assert.are.same({ 1, 2, 1 }, luann.tensor({ 1, 2 }):masked_select(
        luann.tensor({ { true, true }, { true, false } })):tolist())
      assert.are.same({ 0 }, luann.zeros(2):masked_select(luann.tensor({ false, false })).shape)
      assert.has_error(function() a:masked_select(luann.tensor({ true, false, true })) end,
        "masked_select: shapes (2,2) and (3,) cannot be broadcast")
    end)

    it("has a gradient: the output gradient put back where the mask is", function()
      local x = f64({ 1, 2 }, true)
      local y = x:masked_select(luann.tensor({ { true, true }, { true, false } }))
      y:backward(f64({ 1, 2, 3 }))
      assert.are.same({ 4, 2 }, x.grad:tolist())
      assert.is_true(gradcheck(function(a) return a:t():masked_select(luann.tensor({ true, false, true })) end,
        { f64(random_list({ 3, 2 }, "float64"), true) }))
    end)
  end)

  describe("cat", function()
    it("joins along a dim, for every dtype and non-contiguous inputs", function()
      for _, dt in ipairs(ALL) do
        local a, b = random_list({ 2, 3 }, dt), random_list({ 2, 2 }, dt)
        local want = { {}, {} }
        for i = 1, 2 do
          for _, v in ipairs(a[i]) do table.insert(want[i], v) end
          for _, v in ipairs(b[i]) do table.insert(want[i], v) end
        end
        assert.are.same(want, luann.cat({ noncontig(a, dt), noncontig(b, dt) }, 2):tolist())
        assert.are.same(want, luann.cat({ luann.tensor(a, { dtype = dt }), luann.tensor(b, { dtype = dt }) }, -1):tolist())
      end
      local a = luann.tensor({ { 1, 2 } })
      assert.are.same({ { 1, 2 }, { 1, 2 }, { 3, 4 } }, luann.cat({ a, a, luann.tensor({ { 3, 4 } }) }):tolist())
    end)

    it("promotes dtypes and skips 1-D empty tensors", function()
      local r = luann.cat({ long({ 1, 2 }), luann.zeros(0, { dtype = "float64" }), luann.tensor({ 3.5 }) })
      assert.are.equal("float64", r.dtype)
      assert.are.same({ 1, 2, 3.5 }, r:tolist())
      assert.are.same({ 2, 3 }, luann.cat({ luann.zeros(2, 3), luann.zeros(0) }, 2).shape)
      assert.are.same({ 0 }, luann.cat({ luann.zeros(0), luann.zeros(0) }).shape)
      assert.are.same({ 2, 0 }, luann.cat({ luann.zeros(2, 0), luann.zeros(2, 0) }, 2).shape)
    end)

    it("rejects bad lists", function()
      assert.has_error(function() luann.cat({ luann.zeros(2, 3), luann.zeros(2, 4) }) end,
        "cat: tensors must have the same shape except in dim 1, got (2,3) at position 1 and (2,4) at position 2")
      assert.has_error(function() luann.cat({ luann.zeros(2), luann.tensor(1) }) end,
        "cat: zero-dimensional tensor (at position 2) cannot be concatenated")
      assert.has_error(function() luann.cat({}) end, "cat: expected a non-empty list of tensors")
      assert.has_error(function() luann.cat({ luann.zeros(2), 3 }) end,
        "cat: expected a table of tensors, got number at position 2")
      assert.has_error(function() luann.cat({ luann.zeros(2) }, 2) end,
        "cat: dim 2 out of range for tensors of 1 dims")
    end)

    it("has gradients: a narrow of the output gradient per input, for long lists too", function()
      local x, y = f64({ { 1, 2 } }, true), f64({ { 3, 4 }, { 5, 6 } }, true)
      local c = luann.cat({ x, luann.zeros(1, 2, { dtype = "float64" }), y })
      assert.are.equal("CatBackward", c.grad_fn)
      c:backward(f64({ { 1, 2 }, { 3, 4 }, { 5, 6 }, { 7, 8 } }))
      assert.are.same({ { 1, 2 } }, x.grad:tolist())
      assert.are.same({ { 5, 6 }, { 7, 8 } }, y.grad:tolist())
      local inputs = {}
      for i = 1, 11 do inputs[i] = f64(random_list({ 2, i % 3 + 1 }, "float64"), i % 4 ~= 0) end
      inputs[5] = luann.zeros(0, { dtype = "float64", requires_grad = true }) -- skipped by cat
      assert.is_true(gradcheck(function(...) return luann.cat({ ... }, 2) end, inputs))
      local big = {}
      for i = 1, 9 do big[i] = f64({ i, i + 0.5 }, true) end
      local r = luann.cat(big)
      r:backward(luann.arange(18, { dtype = "float64" }))
      for i = 1, 9 do assert.are.same({ 2 * i - 2, 2 * i - 1 }, big[i].grad:tolist()) end
    end)
  end)

  describe("stack", function()
    it("joins along a new dim", function()
      local a, b = luann.tensor({ 1, 2 }), luann.tensor({ 3, 4 })
      assert.are.same({ { 1, 2 }, { 3, 4 } }, luann.stack({ a, b }):tolist())
      assert.are.same({ { 1, 3 }, { 2, 4 } }, luann.stack({ a, b }, 2):tolist())
      assert.are.same({ { 1, 3 }, { 2, 4 } }, luann.stack({ a, b }, -1):tolist())
      local r = luann.stack({ long({ 1 }), luann.tensor({ 1.5 }) })
      assert.are.equal("float32", r.dtype)
      for _, dt in ipairs(ALL) do
        local x = random_list({ 2, 3 }, dt)
        local s = luann.stack({ noncontig(x, dt), luann.tensor(x, { dtype = dt }) }, 2)
        assert.are.same({ 2, 2, 3 }, s.shape)
        assert.are.same(x, s:select(2, 1):tolist())
        assert.are.same(x, s:select(2, 2):tolist())
      end
    end)

    it("rejects different shapes", function()
      assert.has_error(function() luann.stack({ luann.zeros(2, 3), luann.zeros(3) }) end,
        "stack: tensors must have the same shape, got (2,3) at position 1 and (3,) at position 2")
      assert.has_error(function() luann.stack({}) end, "stack: expected a non-empty list of tensors")
      assert.has_error(function() luann.stack({ luann.zeros(2) }, 3) end,
        "stack: dim 3 out of range for tensors of 1 dims")
    end)

    it("stacks 0-dim tensors into a vector", function()
      assert.are.same({ 1, 2 }, luann.stack({ luann.tensor(1.0), luann.tensor(2.0) }):tolist())
    end)

    it("has gradients, for long lists too", function()
      local inputs = {}
      for i = 1, 7 do inputs[i] = f64(random_list({ 2 }, "float64"), i ~= 3) end
      assert.is_true(gradcheck(function(...) return luann.stack({ ... }, 2) end, inputs))
      local s = luann.stack(inputs)
      assert.are.equal("StackBackward", s.grad_fn)
    end)
  end)

  describe("split and chunk", function()
    it("split returns a table of views of the given size", function()
      local t = luann.arange(10):view(5, 2)
      local parts = t:split(2)
      assert.are.equal(3, #parts)
      assert.are.same({ { 0, 1 }, { 2, 3 } }, parts[1]:tolist())
      assert.are.same({ { 8, 9 } }, parts[3]:tolist())
      assert.are.equal(4, parts[2]:storage_offset())
      local cols = luann.split(t, { 1, 1 }, 2)
      assert.are.same({ { 1 }, { 3 }, { 5 }, { 7 }, { 9 } }, cols[2]:tolist())
      assert.are.equal(1, #luann.zeros(0):split(3))
      assert.has_error(function() t:split({ 1, 2 }) end, "split: sizes sum to 3, but dim 1 has size 5")
    end)

    it("chunk returns at most n views of equal size", function()
      local t = luann.arange(5)
      local parts = t:chunk(3)
      assert.are.equal(3, #parts)
      assert.are.same({ 4 }, parts[3]:tolist())
      assert.are.equal(3, #luann.arange(6):chunk(4))
      assert.are.equal(3, #luann.zeros(0):chunk(3))
      assert.has_error(function() t:chunk(0) end, "chunk: the number of chunks must be positive, got 0")
    end)

    it("have gradients through the views", function()
      assert.is_true(gradcheck(function(a) return a:split(2, 2)[2] end,
        { f64(random_list({ 2, 5 }, "float64"), true) }))
      assert.is_true(gradcheck(function(a) return a:chunk(2)[1] end,
        { f64(random_list({ 3, 2 }, "float64"), true) }))
    end)
  end)

  describe("sort and argsort", function()
    it("sort every dtype along a dim, stably, with 1-based indices", function()
      for _, dt in ipairs(ALL) do
        local list = random_list({ 3, 6 }, dt, 0, 3)
        for _, desc in ipairs({ false, true }) do
          local v, i = luann.tensor(list, { dtype = dt }):sort(2, desc)
          local v2, i2 = noncontig(list, dt):sort(-1, desc)
          assert.are.same(v:tolist(), v2:tolist())
          assert.are.same(i:tolist(), i2:tolist())
          for r = 1, 3 do
            local order = {}
            for k = 1, 6 do order[k] = k end
            local key = function(k)
              local x = list[r][k]
              if type(x) == "boolean" then return x and 1 or 0 end
              return x
            end
            table.sort(order, function(p, q)
              if key(p) ~= key(q) then
                if desc then return key(p) > key(q) end
                return key(p) < key(q)
              end
              return p < q -- stable
            end)
            assert.are.same(order, i:tolist()[r])
            for k = 1, 6 do assert.are.equal(list[r][order[k]], v:tolist()[r][k]) end
          end
        end
      end
    end)

    it("sort along dim 1 and put NaN last (first when descending)", function()
      local v, i = luann.tensor({ { 3, 1 }, { 1, 2 }, { 2, 0 } }):sort(1)
      assert.are.same({ { 1, 0 }, { 2, 1 }, { 3, 2 } }, v:tolist())
      assert.are.same({ { 2, 3 }, { 3, 1 }, { 1, 2 } }, i:tolist())
      local nan = 0 / 0
      local sv, si = luann.tensor({ 1, nan, 0, nan }):sort()
      assert.are.same({ 3, 1, 2, 4 }, si:tolist())
      assert.are.equal(0, sv[1])
      assert.is_true(sv[3] ~= sv[3])
      local _, di = luann.tensor({ 1, nan, 0 }):sort(1, true)
      assert.are.same({ 2, 1, 3 }, di:tolist())
    end)

    it("sort int64 values exactly and handle empty and 0-dim tensors", function()
      local big = long({ 4000000000000000, -3, 3999999999999999 })
      local v, i = big:sort()
      assert.are.same({ -3, 3999999999999999, 4000000000000000 }, v:tolist())
      assert.are.same({ 2, 3, 1 }, i:tolist())
      local ev, ei = luann.zeros(0):sort()
      assert.are.same({ 0 }, ev.shape)
      assert.are.equal("int64", ei.dtype)
      local zv, zi = luann.tensor(3.0):sort()
      assert.are.equal(3, zv:item())
      assert.are.equal(1, zi:item())
    end)

    it("argsort gives the indices", function()
      assert.are.same({ 2, 3, 1 }, luann.tensor({ 3, 1, 2 }):argsort():tolist())
      assert.are.same({ 1, 3, 2 }, luann.argsort(luann.tensor({ 3, 1, 2 }), 1, true):tolist())
    end)

    it("sort values have a gradient through the indices", function()
      local x = f64({ 3, 1, 2 }, true)
      local v = x:sort()
      assert.are.equal("SortBackward", v.grad_fn)
      v:backward(f64({ 10, 20, 30 }))
      assert.are.same({ 30, 10, 20 }, x.grad:tolist())
      assert.is_true(gradcheck(function(a) return (a:t():sort(1, true)) end,
        { f64({ { 0.3, 1.2, -0.5 }, { 2.5, -1.1, 0.7 } }, true) }))
    end)
  end)

  describe("topk", function()
    it("gives the k largest or smallest along a dim, in order", function()
      local a = luann.tensor({ { 3, 1, 2, 1 }, { 0, 5, 5, 4 } })
      local v, i = a:topk(2)
      assert.are.same({ { 3, 2 }, { 5, 5 } }, v:tolist())
      assert.are.same({ { 1, 3 }, { 2, 3 } }, i:tolist())
      v, i = a:topk(2, 2, false)
      assert.are.same({ { 1, 1 }, { 0, 4 } }, v:tolist())
      assert.are.same({ { 2, 4 }, { 1, 4 } }, i:tolist())
      v, i = a:t():topk(1, 1)
      assert.are.same({ { 3, 5 } }, v:tolist())
      assert.are.same({ { 1, 2 } }, i:tolist())
      assert.are.same({ 2, 0 }, a:topk(0).shape)
      for _, dt in ipairs(NUMERIC) do
        local tv = luann.tensor({ 4, 9, 1, 7 }, { dtype = dt }):topk(3, 1, true, false)
        assert.are.same({ 9, 7, 4 }, tv:tolist())
      end
    end)

    it("rejects k beyond the size", function()
      assert.has_error(function() luann.zeros(3):topk(4) end, "topk: k 4 is out of range for dim 1 of size 3")
    end)

    it("values have a gradient", function()
      assert.is_true(gradcheck(function(a) return (a:topk(2, 1, false)) end,
        { f64({ { 0.3, 1.2 }, { -0.5, 2.5 }, { -1.1, 0.7 } }, true) }))
      local x = f64({ 1, 3, 2 }, true)
      local v = x:topk(2)
      assert.are.equal("TopkBackward", v.grad_fn)
      v:backward(f64({ 1, 2 }))
      assert.are.same({ 0, 1, 2 }, x.grad:tolist())
    end)
  end)

  describe("one_hot", function()
    it("turns 1-based classes into int64 rows", function()
      local r = luann.one_hot(long({ { 1, 3 }, { 2, 2 } }))
      assert.are.equal("int64", r.dtype)
      assert.are.same({ { { 1, 0, 0 }, { 0, 0, 1 } }, { { 0, 1, 0 }, { 0, 1, 0 } } }, r:tolist())
      assert.are.same({ { 0, 1, 0, 0 } }, long({ 2 }):one_hot(4):tolist())
      assert.are.same({ 0, 3 }, luann.one_hot(luann.zeros(0, { dtype = "int64" }), 3).shape)
      assert.are.same({ 0, 0, 1 }, luann.one_hot(long(3), 3):tolist())
      assert.are.same({ { 0, 1 }, { 1, 0 } }, luann.one_hot(long({ 1, 2, 2, 1 }):narrow(1, 3, 2), 2):tolist())
    end)

    it("rejects classes out of range", function()
      assert.has_error(function() luann.one_hot(long({ 1, 4 }), 3) end,
        "one_hot: class 4 is out of range for 3 classes")
      assert.has_error(function() luann.one_hot(long({ 0 }), 3) end,
        "one_hot: class 0 is out of range for 3 classes")
      assert.has_error(function() luann.one_hot(luann.zeros(0, { dtype = "int64" })) end,
        "one_hot: cannot infer the number of classes of an empty tensor")
      assert.has_error(function() luann.one_hot(luann.zeros(2), 3) end,
        "one_hot: index must be an int64 tensor, got float32")
    end)
  end)

  describe("large tensors (several threads)", function()
    it("gather, scatter_add, index_add and sort match loops", function()
      local rows, cols = 400, 100
      local a = luann.arange(rows * cols, { dtype = "float64" }):view(rows, cols)
      local ilist = random_list({ rows, cols }, "int64", 1, rows)
      local index = long(ilist)
      local g = a:gather(1, index):tolist()
      local s = luann.zeros(rows, cols, { dtype = "float64" }):scatter_add(1, index, a):tolist()
      local want, bad = filled({ rows, cols }, 0), 0
      for i = 1, rows do
        for j = 1, cols do
          local k = ilist[i][j]
          if g[i][j] ~= (k - 1) * cols + j - 1 then bad = bad + 1 end
          want[k][j] = want[k][j] + (i - 1) * cols + j - 1
        end
      end
      local rowsel = random_list({ rows }, "int64", 1, rows)
      local ia = luann.zeros(rows, cols, { dtype = "float64" }):index_add(1, long(rowsel), a):tolist()
      local want2 = filled({ rows, cols }, 0)
      for i = 1, rows do
        for j = 1, cols do want2[rowsel[i]][j] = want2[rowsel[i]][j] + (i - 1) * cols + j - 1 end
      end
      for i = 1, rows do
        for j = 1, cols do
          if s[i][j] ~= want[i][j] then bad = bad + 1 end
          if ia[i][j] ~= want2[i][j] then bad = bad + 1 end
        end
      end
      local v, i = index:t():sort(1)
      v, i = v:tolist(), i:tolist()
      for c = 1, rows do
        for r = 2, cols do
          if not (v[r - 1][c] < v[r][c] or (v[r - 1][c] == v[r][c] and i[r - 1][c] < i[r][c])) then
            bad = bad + 1
          end
        end
      end
      assert.are.equal(0, bad)
    end)
  end)

  describe("memory", function()
    it("frees every tensor of a graph through these ops", function()
      collectgarbage()
      collectgarbage()
      local before = luann.memory_allocated()
      do
        local x = f64(random_list({ 4, 3 }, "float64"), true)
        local parts = {}
        for i = 1, 6 do parts[i] = x:index_select(1, long({ (i % 4) + 1 })) end
        local c = luann.cat(parts)
        local s = luann.stack({ c, c }):masked_select(luann.tensor({ true, false, true }))
        local v = s:sort()
        v:backward(luann.ones(v.shape, { dtype = "float64" }))
        assert.are.same({ 4, 3 }, x.grad.shape)
      end
      collectgarbage()
      collectgarbage()
      assert.are.equal(before, luann.memory_allocated())
    end)
  end)
end)
