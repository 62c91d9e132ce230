-- Creation functions, dtypes and random generators.
local luann = require "luann"

local function same(list, expected)
  assert.are.same(expected, list)
end

describe("luann creation", function()
  describe("tensor", function()
    it("infers int64 from integers, float32 from floats, bool from booleans", function()
      assert.are.equal("int64", luann.tensor({ 1, 2, 3 }).dtype)
      assert.are.equal("float32", luann.tensor({ 1, 2.5 }).dtype)
      assert.are.equal("bool", luann.tensor({ true, false }).dtype)
      assert.are.equal("float32", luann.tensor({}).dtype)
    end)

    it("builds nested shapes and keeps values", function()
      local t = luann.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
      same(t.shape, { 2, 3 })
      same(t:tolist(), { { 1, 2, 3 }, { 4, 5, 6 } })
    end)

    it("takes a dtype as options or string", function()
      assert.are.equal("float64", luann.tensor({ 1, 2 }, { dtype = "float64" }).dtype)
      assert.are.equal("uint8", luann.tensor({ 1, 2 }, "uint8").dtype)
    end)

    it("makes 0-dim tensors from numbers", function()
      local t = luann.tensor(3.5)
      assert.are.equal(0, t:dim())
      assert.are.equal(3.5, t:item())
    end)

    it("rejects ragged and mixed tables", function()
      assert.has_error(function() luann.tensor({ { 1, 2 }, { 3 } }) end,
        "tensor: nested tables are ragged at depth 2 (expected 2 entries)")
      assert.has_error(function() luann.tensor({ 1, true }) end,
        "tensor: cannot mix booleans and numbers")
      assert.has_error(function() luann.tensor({ "a" }) end,
        "tensor: expected numbers or booleans, got string")
    end)

    it("rejects unknown dtypes", function()
      local ok, err = pcall(luann.tensor, { 1 }, "float16")
      assert.is_false(ok)
      assert.matches("unknown dtype 'float16'", err)
    end)
  end)

  describe("zeros, ones, full, empty", function()
    it("takes sizes as varargs or a table", function()
      same(luann.zeros(2, 3).shape, { 2, 3 })
      same(luann.ones({ 4 }).shape, { 4 })
      same(luann.ones(2, { dtype = "int64" }):tolist(), { 1, 1 })
      same(luann.empty(0, 3).shape, { 0, 3 })
    end)

    it("fills values of each dtype", function()
      for _, dt in ipairs({ "float32", "float64", "int64", "uint8" }) do
        same(luann.full({ 2 }, 7, { dtype = dt }):tolist(), { 7, 7 })
      end
      same(luann.ones(2, "bool"):tolist(), { true, true })
      assert.are.equal("int64", luann.full({ 1 }, 3).dtype)
      assert.are.equal("float32", luann.full({ 1 }, 0.5).dtype)
    end)

    it("rejects negative sizes", function()
      assert.has_error(function() luann.zeros(-1) end)
    end)

    it("converts bytes to floats, contiguous and strided", function()
      -- 300 values: the vector loop and its tail; then a transposed view
      local want = {}
      for i = 1, 300 do want[i] = (i * 7) % 256 end
      local b = luann.tensor(want, { dtype = "uint8" })
      same(b:float():tolist(), want)
      local m = b:narrow(1, 1, 200):view(20, 10):t()
      local got = m:float()
      assert.are.equal("float32", got.dtype)
      for i = 1, 10 do
        for j = 1, 20 do assert.are.equal(want[(j - 1) * 10 + i], got[i][j]) end
      end
    end)
  end)

  describe("arange, linspace, eye", function()
    it("arange is [start, end) like PyTorch", function()
      same(luann.arange(5):tolist(), { 0, 1, 2, 3, 4 })
      same(luann.arange(1, 4):tolist(), { 1, 2, 3 })
      same(luann.arange(0, 1, 0.25):tolist(), { 0, 0.25, 0.5, 0.75 })
      assert.are.equal("int64", luann.arange(3).dtype)
      assert.are.equal("float32", luann.arange(0, 1, 0.5).dtype)
      same(luann.arange(3, 0, -1):tolist(), { 3, 2, 1 })
      assert.has_error(function() luann.arange(0, 1, 0) end,
        "arange: step must be finite and non-zero")
    end)

    it("linspace includes both ends", function()
      same(luann.linspace(0, 1, 5, "float64"):tolist(), { 0, 0.25, 0.5, 0.75, 1 })
      same(luann.linspace(2, 2, 1):tolist(), { 2 })
    end)

    it("eye puts ones on the diagonal", function()
      same(luann.eye(3):tolist(), { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } })
      same(luann.eye(2, 3):tolist(), { { 1, 0, 0 }, { 0, 1, 0 } })
    end)
  end)

  describe("*_like", function()
    it("copies shape, dtype and device", function()
      local t = luann.zeros(2, 3, "float64")
      local o = luann.ones_like(t)
      same(o.shape, { 2, 3 })
      assert.are.equal("float64", o.dtype)
      assert.are.equal("int64", luann.zeros_like(t, "int64").dtype)
      same(luann.full_like(t, 2):tolist(), { { 2, 2, 2 }, { 2, 2, 2 } })
    end)
  end)

  describe("random", function()
    it("gives the same numbers for a seed", function()
      luann.manual_seed(42)
      local a = luann.rand(5):tolist()
      luann.manual_seed(42)
      local b = luann.rand(5):tolist()
      same(a, b)
    end)

    it("matches the documented generator (SplitMix64 over seed and counter)", function()
      -- First uniform for seed 0: splitmix64 of 0x9E3779B97F4A7C15, top 53 bits.
      local g = luann.Generator(0)
      local v = luann.rand(1, { dtype = "float64", generator = g }):item()
      assert.is_near(0.8833108082136426, v, 1e-15)
    end)

    it("rand is in [0, 1) with mean near 1/2", function()
      local v = luann.rand(10000, { generator = luann.Generator(1) }):double():tolist()
      local s = 0
      for _, x in ipairs(v) do
        assert.is_true(x >= 0 and x < 1)
        s = s + x
      end
      assert.is_near(0.5, s / #v, 0.02)
    end)

    it("randn has mean 0 and variance 1", function()
      local v = luann.randn(20000, { dtype = "float64", generator = luann.Generator(2) }):tolist()
      local s, s2 = 0, 0
      for _, x in ipairs(v) do s, s2 = s + x, s2 + x * x end
      assert.is_near(0, s / #v, 0.03)
      assert.is_near(1, s2 / #v - (s / #v) ^ 2, 0.05)
    end)

    it("randint stays in [low, high)", function()
      local t = luann.randint(3, 7, { 1000 }, { generator = luann.Generator(3) })
      assert.are.equal("int64", t.dtype)
      local seen = {}
      for _, x in ipairs(t:tolist()) do
        assert.is_true(x >= 3 and x < 7)
        seen[x] = true
      end
      assert.is_true(seen[3] and seen[6])
      assert.has_error(function() luann.randint(5, 5, { 2 }) end,
        "randint: high (5) must be greater than low (5)")
    end)

    it("randperm is a permutation of 1..n", function()
      local p = luann.randperm(10, { generator = luann.Generator(4) }):tolist()
      table.sort(p)
      same(p, { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 })
    end)

    it("in-place fills draw from the given generator", function()
      local a = luann.empty(4):uniform_(2, 3, { generator = luann.Generator(5) }):tolist()
      local b = luann.empty(4):uniform_(2, 3, { generator = luann.Generator(5) }):tolist()
      same(a, b)
      for _, x in ipairs(a) do assert.is_true(x >= 2 and x < 3) end
      local m = luann.empty(1000):bernoulli_(0.3, { generator = luann.Generator(6) }):tolist()
      local ones = 0
      for _, x in ipairs(m) do
        assert.is_true(x == 0 or x == 1)
        ones = ones + x
      end
      assert.is_near(300, ones, 60)
    end)
  end)
end)
