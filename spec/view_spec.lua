-- Views share storage; their geometry and their gradients.
local luann = require "luann"

local function same(a, b) assert.are.same(b, a) end

describe("luann views", function()
  local t
  before_each(function()
    t = luann.arange(6):view(2, 3) -- {{0,1,2},{3,4,5}}
  end)

  describe("view and reshape", function()
    it("share storage", function()
      local v = t:view(3, 2)
      v[{ 1, 1 }] = 100
      assert.are.equal(100, t[{ 1, 1 }])
      same(t:view(-1).shape, { 6 })
    end)

    it("reject incompatible sizes with both shapes", function()
      assert.has_error(function() t:view(4, 2) end,
        "view: shape (4,2) is invalid for a tensor of shape (2,3) (6 elements)")
      assert.has_error(function() t:view(-1, -1) end, "view: only one dim can be -1")
    end)

    it("view refuses non-contiguous layouts that reshape copies", function()
      local tt = t:t()
      assert.has_error(function() tt:view(6) end)
      same(tt:reshape(6):tolist(), { 0, 3, 1, 4, 2, 5 })
    end)

    it("view merges contiguous dims of a strided tensor", function()
      local x = luann.arange(24):view(2, 3, 4):narrow(3, 1, 2) -- (2,3,2), strides (12,4,1)
      same(x:view(2, 3, 2):size(), { 2, 3, 2 })
      assert.has_error(function() x:view(12) end)
    end)
  end)

  describe("transpose, permute, t", function()
    it("swap dims without copying", function()
      local tt = t:transpose(1, 2)
      same(tt.shape, { 3, 2 })
      same(tt:tolist(), { { 0, 3 }, { 1, 4 }, { 2, 5 } })
      assert.is_false(tt:is_contiguous())
      same(tt:stride(), { 1, 3 })
    end)

    it("permute reorders dims", function()
      local x = luann.arange(24):view(2, 3, 4)
      local p = x:permute(3, 1, 2)
      same(p.shape, { 4, 2, 3 })
      assert.are.equal(x[{ 2, 3, 4 }], p[{ 4, 2, 3 }])
      assert.has_error(function() x:permute(1, 1, 2) end, "permute: dim 1 appears twice")
    end)
  end)

  describe("narrow, select, indexing", function()
    it("narrow takes a 1-based start", function()
      same(t:narrow(2, 2, 2):tolist(), { { 1, 2 }, { 4, 5 } })
    end)

    it("select drops the dim", function()
      same(t:select(1, 2):tolist(), { 3, 4, 5 })
      same(t:select(2, -1):tolist(), { 2, 5 })
      assert.has_error(function() t:select(1, 3) end,
        "index 3 is out of range for dim 1 of size 2")
    end)

    it("t[i] gives a row view, or a number for 1-D", function()
      same(t[2]:tolist(), { 3, 4, 5 })
      assert.are.equal(4, t[2][2])
      assert.are.equal(5, t[-1][-1])
      assert.has_error(function() return t[0] end, "index 0 is invalid: indices are 1-based")
      assert.has_error(function() return t[3] end, "index 3 is out of range for dim 1 of size 2 (iterate with pairs(t))")
    end)

    it("t[{...}] takes indices, ranges and 'all'", function()
      same(t[{ "all", { 2, 3 } }]:tolist(), { { 1, 2 }, { 4, 5 } })
      same(t[{ { 1, 2 }, 1 }]:tolist(), { 0, 3 })
      same(t[{ 2, { -2, -1 } }]:tolist(), { 4, 5 })
      same(t[{ 1, { 1, 3, 2 } }]:tolist(), { 0, 2 })
      assert.are.equal(5, t[{ 2, 3 }])
    end)

    it("assigns numbers and tensors into slices", function()
      t[{ "all", 1 }] = 9
      same(t:tolist(), { { 9, 1, 2 }, { 9, 4, 5 } })
      t[2] = luann.tensor({ 7, 8, 9 })
      same(t:tolist(), { { 9, 1, 2 }, { 7, 8, 9 } })
      t[{ 1, { 2, 3 } }] = luann.tensor({ 0 }) -- broadcast
      same(t:tolist(), { { 9, 0, 0 }, { 7, 8, 9 } })
    end)
  end)

  describe("squeeze, unsqueeze, flatten, expand", function()
    it("squeeze and unsqueeze", function()
      local x = luann.zeros(1, 3, 1)
      same(x:squeeze().shape, { 3 })
      same(x:squeeze(1).shape, { 3, 1 })
      same(x:squeeze(-1).shape, { 1, 3 })
      same(luann.zeros(3):unsqueeze(1).shape, { 1, 3 })
      same(luann.zeros(3):unsqueeze(-1).shape, { 3, 1 })
      same(luann.zeros(3):unsqueeze(2).shape, { 3, 1 })
    end)

    it("flatten collapses a range of dims", function()
      local x = luann.zeros(2, 3, 4)
      same(x:flatten().shape, { 24 })
      same(x:flatten(2).shape, { 2, 12 })
      same(x:flatten(1, 2).shape, { 6, 4 })
    end)

    it("expand repeats size-1 dims with stride 0", function()
      local x = luann.tensor({ { 1 }, { 2 } }):expand(2, 3)
      same(x:tolist(), { { 1, 1, 1 }, { 2, 2, 2 } })
      same(x:stride(), { 1, 0 })
      same(luann.tensor({ 1, 2 }):expand(2, -1):tolist(), { { 1, 2 }, { 1, 2 } })
      assert.has_error(function() luann.tensor({ 1, 2 }):expand(3) end,
        "expand: shape (2,) cannot be expanded to (3,)")
    end)
  end)

  describe("contiguous, clone, detach, to", function()
    it("contiguous copies strided tensors into row-major order", function()
      local c = t:t():contiguous()
      assert.is_true(c:is_contiguous())
      same(c:stride(), { 2, 1 })
      same(c:tolist(), { { 0, 3 }, { 1, 4 }, { 2, 5 } })
    end)

    it("clone does not share storage", function()
      local c = t:clone()
      c[{ 1, 1 }] = 42
      assert.are.equal(0, t[{ 1, 1 }])
    end)

    it("converts dtypes", function()
      local f = luann.tensor({ 1.7, -1.7, 300 })
      same(f:long():tolist(), { 1, -1, 300 })
      same(f:bool():tolist(), { true, true, true })
      same(luann.tensor({ 0, 2 }):to("bool"):tolist(), { false, true })
      assert.are.equal("float64", f:to({ dtype = "float64" }).dtype)
      assert.are.equal("float64", f:type("float64"):type())
      assert.has_error(function() f:to("nonsense") end,
        "to: 'nonsense' is neither a dtype nor a device")
    end)
  end)
end)
