-- The tensor userdata: values out to Lua, properties, printing, errors.
local luann = require "luann"

describe("luann tensor", function()
  describe("values out to Lua", function()
    it("item gives a Lua number, integer for int dtypes, boolean for bool", function()
      assert.are.equal(math.type(luann.tensor({ 3 }):item()), "integer")
      assert.are.equal(math.type(luann.tensor({ 3.5 }):item()), "float")
      assert.are.equal(true, luann.tensor({ true }):item())
      assert.has_error(function() luann.zeros(2):item() end,
        "item: expected a tensor with one element, got shape (2,)")
    end)

    it("tolist follows strides", function()
      assert.are.same({ { 1, 3 }, { 2, 4 } }, luann.tensor({ { 1, 2 }, { 3, 4 } }):t():tolist())
      assert.are.same({}, luann.zeros(0):tolist())
    end)

    it("size, dim, numel, #", function()
      local t = luann.zeros(2, 3, 4)
      assert.are.same({ 2, 3, 4 }, t:size())
      assert.are.same({ 2, 3, 4 }, t.shape)
      assert.are.equal(3, t:size(2))
      assert.are.equal(4, t:size(-1))
      assert.are.equal(3, t:dim())
      assert.are.equal(24, t:numel())
      assert.are.equal(2, #t)
      assert.has_error(function() t:size(0) end)
    end)
  end)

  describe("properties", function()
    it("dtype, device, requires_grad, is_leaf", function()
      local t = luann.ones(2)
      assert.are.equal("float32", t.dtype)
      assert.are.equal("cpu", t.device)
      assert.is_false(t.requires_grad)
      assert.is_true(t.is_leaf)
      t.requires_grad = true
      assert.is_true(t.requires_grad)
      assert.has_error(function() t.foo = 1 end, "cannot set field 'foo' of a tensor")
      assert.has_error(function() luann.ones(2, "int64").requires_grad = true end,
        "only floating point tensors can require gradients, got int64")
    end)

    it("== compares identity; eq compares values", function()
      local t = luann.ones(2)
      assert.is_true(t == t)
      assert.is_false(t == luann.ones(2))
    end)
  end)

  describe("tostring", function()
    it("prints values, then shape and dtype", function()
      assert.are.equal("tensor([[1., 2.],\n        [3., 4.]], shape=(2,2), dtype=float32)",
        tostring(luann.tensor({ { 1.0, 2.0 }, { 3.0, 4.0 } })))
      assert.are.equal("tensor([ 0.5000, -1.2500], shape=(2,), dtype=float64)",
        tostring(luann.tensor({ 0.5, -1.25 }, "float64")))
      assert.are.equal("tensor([1, 2, 3], shape=(3,), dtype=int64)",
        tostring(luann.tensor({ 1, 2, 3 })))
      assert.are.equal("tensor([ true, false], shape=(2,), dtype=bool)",
        tostring(luann.tensor({ true, false })))
      assert.are.equal("tensor(7, shape=(), dtype=int64)", tostring(luann.tensor(7)))
      assert.are.equal("tensor([], shape=(0,3), dtype=float32)", tostring(luann.zeros(0, 3)))
    end)

    it("summarizes large tensors", function()
      local s = tostring(luann.arange(2000))
      assert.are.equal("tensor([   0,    1,    2, ..., 1997, 1998, 1999], shape=(2000,), dtype=int64)", s)
      local m = tostring(luann.zeros(100, 100))
      assert.matches("%.%.%.", m)
      assert.is_true(#m < 2000)
    end)

    it("shows requires_grad", function()
      local t = luann.ones(1, { requires_grad = true })
      assert.are.equal("tensor([1.], shape=(1,), dtype=float32, requires_grad=true)", tostring(t))
    end)
  end)

  describe("bad arguments", function()
    it("name the argument position and the expected type", function()
      assert.has_error(function() luann.zeros(2):view("x") end,
        "bad argument #1 to 'view' (integer expected, got string)")
      assert.has_error(function() luann.ones(2).copy_(nil, luann.ones(2)) end,
        "bad argument #1 to 'copy_' (tensor expected, got nil)")
      assert.has_error(function() luann.zeros(2):select(0, 1) end,
        "bad argument #1 to 'select' (dim 0 is invalid: dims are 1-based)")
    end)
  end)

  describe("<close>", function()
    it("frees the tensor at once and later uses raise", function()
      local before = luann.memory_allocated and luann.memory_allocated() or nil
      local keep
      do
        local t <close> = luann.zeros(1000)
        keep = t
      end
      assert.has_error(function() keep:numel() end)
      assert.are.equal("tensor(closed)", tostring(keep))
    end)
  end)
end)
