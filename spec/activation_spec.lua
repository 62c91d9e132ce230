-- The composite layers of luann.nn (activations, Embedding, Dropout2d,
-- Unflatten): built in Lua from existing ops, so these specs check values
-- against the formulas computed here in plain Lua, gradients by finite
-- differences, stability at large |x|, the modules' settings, parameters
-- and printing, and (#opencl) the same results on an OpenCL device.
local luann = require "luann"
local nn = require "luann.nn"
local helpers = require "helpers"
local cmp = require "opencl_compare"
local F = nn.functional
local gradcheck = luann.autograd.gradcheck

local function f64(t, rg) return luann.tensor(t, { dtype = "float64", requires_grad = rg }) end
local function long(t) return luann.tensor(t, { dtype = "int64" }) end

-- Every element of t within 1e-12 (relative, and absolute near 0) of ref.
local function close(t, ref, tol)
  tol = tol or 1e-12
  helpers.assert_close(t, ref, tol, tol)
end

local map = helpers.map -- the plain-Lua formula applied to each of a list

local function is_finite(t)
  for _, v in ipairs(helpers.values(t)) do
    if v ~= v or v == math.huge or v == -math.huge then return false end
  end
  return true
end

local SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

local function elu_ref(alpha)
  return function(v) return v > 0 and v or alpha * (math.exp(v) - 1) end
end
local function softplus_ref(beta, threshold)
  return function(v)
    if beta * v > threshold then return v end
    return math.log(1 + math.exp(beta * v)) / beta
  end
end
local function hardswish_ref(v) return v * math.min(math.max(v + 3, 0), 6) / 6 end

-- Points for the values, and points away from every kink (0, +-1, +-3, 6)
-- for the finite differences.
local XS = { -4, -3, -2.5, -1, -0.5, 0, 0.5, 1, 2.5, 3, 4, 6, 7.5 }
local SMOOTH = { -3.7, -2.4, -1.3, -0.6, 0.4, 0.8, 1.2, 2.2, 3.6, 5.1, 6.5 }

-- The single-input functions with their plain-Lua references.
local UNARY = {
  { "elu", function(x) return F.elu(x) end, elu_ref(1) },
  { "elu alpha=0.5", function(x) return F.elu(x, 0.5) end, elu_ref(0.5) },
  { "selu", F.selu, function(v) return SELU_SCALE * elu_ref(SELU_ALPHA)(v) end },
  { "softplus", function(x) return F.softplus(x) end, softplus_ref(1, 20) },
  { "softplus beta=2 threshold=3", function(x) return F.softplus(x, 2, 3) end, softplus_ref(2, 3) },
  { "mish", F.mish, function(v) return v * math.tanh(math.log(1 + math.exp(v))) end },
  { "hardtanh", function(x) return F.hardtanh(x) end, function(v) return math.min(math.max(v, -1), 1) end },
  { "hardtanh -2,2.5", function(x) return F.hardtanh(x, -2, 2.5) end,
    function(v) return math.min(math.max(v, -2), 2.5) end },
  { "relu6", F.relu6, function(v) return math.min(math.max(v, 0), 6) end },
  { "hardswish", F.hardswish, hardswish_ref },
  { "logsigmoid", F.logsigmoid, function(v) return math.log(1 / (1 + math.exp(-v))) end },
}

describe("luann.nn composites", function()
  describe("activations", function()
    it("compute their formulas", function()
      for _, case in ipairs(UNARY) do
        local name, f, ref = case[1], case[2], case[3]
        local ok, err = pcall(close, f(f64(XS)), map(XS, ref))
        assert(ok, name .. ": " .. tostring(err))
      end
    end)

    it("keep the shape and the float dtype", function()
      local x = luann.randn(2, 3, 4)
      for _, case in ipairs(UNARY) do
        local y = case[2](x)
        assert.are.same({ 2, 3, 4 }, y.shape, case[1])
        assert.are.equal("float32", y.dtype, case[1])
      end
    end)

    it("stay finite and exact at large |x| (softplus, logsigmoid, mish)", function()
      local big = { -1000, -100, -40, 40, 100, 1000 }
      for _, dt in ipairs({ "float32", "float64" }) do
        for _, f in ipairs({ F.softplus, F.logsigmoid, F.mish }) do
          local x = luann.tensor(big, { dtype = dt, requires_grad = true })
          local y = f(x)
          y:sum():backward()
          assert.is_true(is_finite(y) and is_finite(x.grad), dt)
        end
        local x = luann.tensor(big, { dtype = dt })
        close(F.softplus(x), { 0, 0, 4.248354255291589e-18, 40, 100, 1000 }, 1e-6)
        close(F.logsigmoid(x), { -1000, -100, -40, -4.248354255291589e-18, 0, 0 }, 1e-6)
        close(F.mish(x), { 0, 0, -1.6993417021166355e-16, 40, 100, 1000 }, 1e-6)
      end
      -- softplus(-40) is exp(-40), not rounded to 0 by 1 + exp(-40)
      local tiny = F.softplus(f64({ -40 })):item()
      assert.is_true(math.abs(tiny - math.exp(-40)) < 1e-30)
    end)

    it("are linear above softplus's threshold, in beta * x", function()
      local y = F.softplus(f64({ 10.5, 9.5 }), 2):tolist()
      assert.are.equal(10.5, y[1]) -- beta x = 21 > 20: x itself
      assert.are.equal(math.log(1 + math.exp(19)) / 2, y[2])
      assert.are.equal(2, F.softplus(f64({ 2 }), 1, 1):item())
    end)

    it("have correct gradients", function()
      for _, case in ipairs(UNARY) do
        local x = f64(SMOOTH, true)
        local ok, err = pcall(gradcheck, case[2], { x })
        assert(ok, case[1] .. ": " .. tostring(err))
      end
    end)

    it("take PyTorch's slopes at the kinks", function()
      local function slope(f, v)
        local x = f64({ v }, true)
        f(x):sum():backward()
        return x.grad:item()
      end
      assert.are.equal(0.5, slope(F.softplus, 0))
      assert.are.equal(0.5, slope(F.logsigmoid, 0))
      assert.are.equal(1, slope(F.elu, 0))
      assert.are.equal(0.5, slope(function(x) return F.elu(x, 0.5) end, 0))
      assert.are.equal(1.5, slope(F.hardswish, 3))
      assert.are.equal(-0.5, slope(F.hardswish, -3))
      assert.are.equal(1, slope(F.softplus, 25))
      assert.are.equal(0, slope(F.softplus, -1000))
      assert.are.equal(1, slope(F.logsigmoid, -1000))
    end)

    it("name the bad argument", function()
      local x = luann.zeros(2)
      for _, name in ipairs({ "elu", "selu", "softplus", "mish", "hardtanh", "relu6", "hardswish",
        "logsigmoid", "prelu" }) do
        assert.has_error(function() F[name](3) end,
          name .. ": bad argument #1 'input' (tensor expected, got number)")
      end
      assert.has_error(function() F.elu(x, "1") end,
        "elu: bad argument #2 'alpha' (number expected, got string)")
      assert.has_error(function() F.softplus(x, 1, {}) end,
        "softplus: bad argument #3 'threshold' (number expected, got table)")
      assert.has_error(function() F.hardtanh(x, 1, -1) end,
        "hardtanh: min_val (1) is greater than max_val (-1)")
    end)
  end)

  describe("prelu", function()
    it("scales the negative part by one shared slope or one per channel", function()
      local x = f64({ { -2, 3 }, { 4, -1 } })
      close(F.prelu(x, f64({ 0.25 })), { -0.5, 3, 4, -0.25 })
      close(F.prelu(x, f64({ 0.5, 2 })), { -1, 3, 4, -2 })
      local img = luann.randn(2, 3, 2, 2, { dtype = "float64" })
      local w = f64({ 0.1, 0.2, 0.3 })
      local y, xv = F.prelu(img, w):tolist(), img:tolist()
      for n = 1, 2 do
        for c = 1, 3 do
          for h = 1, 2 do
            for k = 1, 2 do
              local v = xv[n][c][h][k]
              assert.are.equal(v > 0 and v or w:tolist()[c] * v, y[n][c][h][k])
            end
          end
        end
      end
      assert.are.same({}, F.prelu(f64(-2), f64({ 0.25 })).shape)
    end)

    it("has correct gradients for the input and the slopes", function()
      local x = luann.tensor({ { { -1.3, 0.4 }, { 2.2, -0.6 } }, { { 0.8, -2.4 }, { -3.7, 1.2 } } },
        { dtype = "float64", requires_grad = true })
      assert.is_true(gradcheck(F.prelu, { x, f64({ 0.25 }, true) }))
      assert.is_true(gradcheck(F.prelu, { x, f64({ 0.1, -0.3 }, true) }))
    end)

    it("checks the number of slopes", function()
      assert.has_error(function() F.prelu(luann.zeros(2, 3), luann.ones(2)) end,
        "prelu: weight has 2 elements, expected 1 or the input's 3 channels (dim 2)")
      assert.has_error(function() F.prelu(luann.zeros(3), luann.ones(3)) end,
        "prelu: weight has 3 elements, expected 1 or the input's 1 channels (dim 2)")
      assert.has_error(function() F.prelu(luann.zeros(2, 2), luann.ones(1, 2)) end,
        "prelu: weight must be a scalar or 1-D, got shape (1,2)")
      assert.has_error(function() F.prelu(luann.zeros(2), 0.25) end,
        "prelu: bad argument #2 'weight' (tensor expected, got number)")
    end)
  end)

  describe("activation modules", function()
    local x = { -2.5, -0.5, 0.5, 2.5, 7 }
    local function apply(m) return m(f64(x)) end

    it("compute their functions with their settings", function()
      close(apply(nn.ELU()), map(x, elu_ref(1)))
      close(apply(nn.ELU(0.3)), map(x, elu_ref(0.3)))
      close(apply(nn.SELU()), F.selu(f64(x)):tolist())
      close(apply(nn.Softplus()), map(x, softplus_ref(1, 20)))
      close(apply(nn.Softplus(2, 4)), map(x, softplus_ref(2, 4)))
      close(apply(nn.Mish()), F.mish(f64(x)):tolist())
      close(apply(nn.Hardtanh()), { -1, -0.5, 0.5, 1, 1 })
      close(apply(nn.Hardtanh(-2, 3)), { -2, -0.5, 0.5, 2.5, 3 })
      close(apply(nn.ReLU6()), { 0, 0, 0.5, 2.5, 6 })
      close(apply(nn.Hardswish()), map(x, hardswish_ref))
      close(apply(nn.LogSigmoid()), F.logsigmoid(f64(x)):tolist())
    end)

    it("print like PyTorch's", function()
      assert.are.equal("ELU(alpha=1)", tostring(nn.ELU()))
      assert.are.equal("ELU(alpha=0.5)", tostring(nn.ELU(0.5)))
      assert.are.equal("SELU()", tostring(nn.SELU()))
      assert.are.equal("Softplus(beta=1, threshold=20)", tostring(nn.Softplus()))
      assert.are.equal("Softplus(beta=2, threshold=10)", tostring(nn.Softplus(2, 10)))
      assert.are.equal("Mish()", tostring(nn.Mish()))
      assert.are.equal("Hardtanh(min_val=-1, max_val=1)", tostring(nn.Hardtanh()))
      assert.are.equal("ReLU6()", tostring(nn.ReLU6()))
      assert.are.equal("Hardswish()", tostring(nn.Hardswish()))
      assert.are.equal("LogSigmoid()", tostring(nn.LogSigmoid()))
      assert.are.equal("PReLU(num_parameters=1)", tostring(nn.PReLU()))
      assert.are.equal("Dropout2d(p=0.5)", tostring(nn.Dropout2d()))
      assert.are.equal("Embedding(10, 3, padding_idx=2)", tostring(nn.Embedding(10, 3, { padding_idx = 2 })))
      assert.are.equal("Unflatten(dim=2, unflattened_size=(1, 28, 28))",
        tostring(nn.Unflatten(2, { 1, 28, 28 })))
    end)

    it("hold no parameters, but PReLU and Embedding hold `weight`", function()
      for _, m in ipairs({ nn.ELU(), nn.SELU(), nn.Softplus(), nn.Mish(), nn.Hardtanh(), nn.ReLU6(),
        nn.Hardswish(), nn.LogSigmoid(), nn.Dropout2d(), nn.Unflatten(1, { 2, 2 }) }) do
        assert.are.same({}, m:state_dict(), tostring(m))
      end
      for _, m in ipairs({ nn.PReLU(4), nn.Embedding(5, 2) }) do
        local names = {}
        for name in m:named_parameters() do names[#names + 1] = name end
        assert.are.same({ "weight" }, names)
        local sd = m:state_dict()
        assert.is_true(luann.is_tensor(sd.weight))
      end
    end)

    it("check their settings", function()
      assert.has_error(function() nn.ELU("a") end,
        "nn.ELU: bad argument #1 'alpha' (number expected, got string)")
      assert.has_error(function() nn.Softplus(1, "20") end,
        "nn.Softplus: bad argument #2 'threshold' (number expected, got string)")
      assert.has_error(function() nn.Hardtanh(1, 0) end,
        "nn.Hardtanh: bad argument #2 'max_val' (0 out of range [1, inf])")
      assert.has_error(function() nn.PReLU(0) end,
        "nn.PReLU: bad argument #1 'num_parameters' (must be >= 1, got 0)")
      assert.has_error(function() nn.PReLU(1, 0.25, { bias = true }) end,
        "nn.PReLU: unknown option 'bias' (known: device, dtype)")
      assert.has_error(function() nn.Dropout2d(2) end,
        "nn.Dropout2d: bad argument #1 'p' (2 out of range [0, 1])")
    end)
  end)

  describe("PReLU", function()
    it("learns a slope starting at init, one or one per channel", function()
      local m = nn.PReLU()
      assert.are.same({ 0.25 }, m.weight:tolist())
      local c = nn.PReLU(3, 0.1, { dtype = "float64" })
      assert.are.same({ 0.1, 0.1, 0.1 }, c.weight:tolist())
      assert.are.equal("float64", c.weight.dtype)
      local x = luann.tensor({ { -1, 2, -3 } }, { dtype = "float64" })
      local y = c(x)
      close(y, { -0.1, 2, -0.3 })
      y:sum():backward()
      close(c.weight.grad, { -1, 0, -3 })
      assert.is_true(nn.is_parameter(c.weight))
    end)
  end)

  describe("Embedding", function()
    it("looks up 1-based rows for any shape of input", function()
      local w = f64({ { 1, 2 }, { 3, 4 }, { 5, 6 } })
      local y = F.embedding(long({ { 3, 1 }, { 2, 2 } }), w)
      assert.are.same({ { { 5, 6 }, { 1, 2 } }, { { 3, 4 }, { 3, 4 } } }, y:tolist())
      assert.are.same({ 2 }, F.embedding(long(3), w).shape)
      assert.are.same({ 0, 2 }, F.embedding(long({}), w).shape)
      assert.are.same({ 2, 1, 4, 2 }, F.embedding(luann.ones(2, 1, 4, { dtype = "int64" }), w).shape)
    end)

    it("sums the gradient per row, and gives the padding row none", function()
      local w = luann.randn(4, 3, { dtype = "float64", requires_grad = true })
      local idx = long({ { 1, 2, 2 }, { 4, 2, 1 } })
      F.embedding(idx, w, 2):sum():backward()
      assert.are.same({ { 2, 2, 2 }, { 0, 0, 0 }, { 0, 0, 0 }, { 1, 1, 1 } }, w.grad:tolist())
      w.grad = nil
      F.embedding(idx, w, -1):sum():backward() -- -1: the last row
      assert.are.same({ { 2, 2, 2 }, { 3, 3, 3 }, { 0, 0, 0 }, { 0, 0, 0 } }, w.grad:tolist())
      assert.is_true(gradcheck(function(t) return F.embedding(idx, t) end, { w }))
    end)

    it("keeps the padding row's values in the output", function()
      local w = f64({ { 1, 2 }, { 3, 4 } }, true)
      assert.are.same({ { 3, 4 }, { 1, 2 } }, F.embedding(long({ 2, 1 }), w, 2):tolist())
    end)

    it("starts N(0, 1) with the padding row zero", function()
      luann.manual_seed(3)
      local m = nn.Embedding(200, 50, { padding_idx = 7 })
      assert.are.same({ 200, 50 }, m.weight.shape)
      assert.are.same(luann.zeros(50):tolist(), m.weight[7]:tolist())
      local mean, sd = m.weight:mean():item(), m.weight:std():item()
      assert.is_true(math.abs(mean) < 0.03 and math.abs(sd - 1) < 0.03, mean .. " " .. sd)
      local y = m(long({ { 7, 1 } }))
      assert.are.same({ 1, 2, 50 }, y.shape)
      y:sum():backward()
      assert.are.same(luann.zeros(50):tolist(), m.weight.grad[7]:tolist())
      assert.are.same(luann.ones(50):tolist(), m.weight.grad[1]:tolist())
      assert.are.equal(10, nn.Embedding(10, 3, { padding_idx = -1 }).padding_idx)
    end)

    it("wraps a pretrained table, frozen by default", function()
      local v = luann.tensor({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, { dtype = "float32" })
      local m = nn.Embedding.from_pretrained(v)
      assert.is_false(m.weight.requires_grad)
      assert.are.same({ { 5, 6 } }, m(long({ 3 })):tolist())
      assert.are.equal("Embedding(3, 2)", tostring(m))
      local t = nn.Embedding.from_pretrained(luann.tensor({ { 1, 2 }, { 3, 4 } }, { dtype = "float32" }),
        { freeze = false, padding_idx = 1 })
      assert.is_true(t.weight.requires_grad)
      assert.are.same({ { 1, 2 } }, t(long({ 1 })):tolist()) -- the row is not zeroed
      assert.are.equal(1, t.padding_idx)
      assert.has_error(function() nn.Embedding.from_pretrained(luann.ones(3)) end,
        "nn.Embedding.from_pretrained: embeddings must be 2-D, got shape (3)")
    end)

    it("names the bad argument", function()
      local w = luann.ones(3, 2)
      assert.has_error(function() F.embedding(luann.ones(2), w) end,
        "embedding: bad argument #1 'input' (int64 tensor of indices expected, got float32)")
      assert.has_error(function() F.embedding(long({ 1 }), "w") end,
        "embedding: bad argument #2 'weight' (tensor expected, got string)")
      assert.has_error(function() F.embedding(long({ 1 }), luann.ones(3)) end,
        "embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape (3)")
      assert.has_error(function() F.embedding(long({ 1 }), w, 0) end,
        "embedding: bad argument #3 'padding_idx' (0 out of range [1, 3] or [-3, -1])")
      assert.has_error(function() F.embedding(long({ 4 }), w) end,
        "index_select: index 4 is out of range for dim 1 of size 3")
      assert.has_error(function() nn.Embedding(3, 2, { padding_idx = 4 }) end,
        "nn.Embedding: bad argument #3 'padding_idx' (4 out of range [1, 3] or [-3, -1])")
      assert.has_error(function() nn.Embedding(-1, 2) end,
        "nn.Embedding: bad argument #1 'num_embeddings' (must be >= 0, got -1)")
    end)
  end)

  describe("Dropout2d", function()
    -- For each (n, c) channel of y: whether it is all zero; errors unless
    -- every channel is all zero or all `scale`.
    local function dropped(y, scale)
      local out = {}
      local nd = y:dim()
      local flat = y:reshape(-1, y:size(nd - 1) * y:size(nd)):tolist()
      for i, ch in ipairs(flat) do
        out[i] = ch[1] == 0
        for _, v in ipairs(ch) do
          assert.are.equal(out[i] and 0 or scale, v)
        end
      end
      return out
    end

    it("zeroes whole channels with probability p and scales the rest", function()
      luann.manual_seed(7)
      local y = nn.Dropout2d(0.3)(luann.ones(8, 50, 3, 3, { dtype = "float64" }))
      local zeros = 0
      for _, z in ipairs(dropped(y, 1 / 0.7)) do zeros = zeros + (z and 1 or 0) end
      assert.is_true(zeros > 80 and zeros < 160, "dropped channels: " .. zeros) -- 120 expected
      local y3 = F.dropout2d(luann.ones(40, 2, 2, { dtype = "float64" }), 0.5)
      local n3 = 0
      for _, z in ipairs(dropped(y3, 2)) do n3 = n3 + (z and 1 or 0) end
      assert.is_true(n3 > 5 and n3 < 35, "dropped channels (3-D): " .. n3)
    end)

    it("passes the input through in eval mode, with training false or p = 0", function()
      local x = luann.rand(2, 3, 2, 2)
      local m = nn.Dropout2d(0.5)
      m:eval()
      assert.is_true(rawequal(x, m(x)))
      assert.is_true(rawequal(x, F.dropout2d(x, 0.5, false)))
      assert.is_true(rawequal(x, F.dropout2d(x, 0)))
      assert.are.same(luann.zeros(2, 3, 2, 2):tolist(), F.dropout2d(x, 1):tolist())
    end)

    it("sends gradients only through kept channels", function()
      luann.manual_seed(2)
      local x = luann.ones(4, 6, 2, 2, { dtype = "float64", requires_grad = true })
      local y = F.dropout2d(x, 0.5)
      y:sum():backward()
      assert.are.same(y:tolist(), x.grad:tolist())
      local r = luann.randn(2, 3, 2, 2, { dtype = "float64", requires_grad = true })
      assert.is_true(gradcheck(function(a)
        luann.manual_seed(5) -- the same channels at every evaluation
        return F.dropout2d(a, 0.4)
      end, { r }))
    end)

    it("takes (N, C, H, W) or (C, H, W) only", function()
      assert.has_error(function() F.dropout2d(luann.ones(3, 3)) end,
        "dropout2d: expected a (N, C, H, W) or (C, H, W) input, got shape (3,3)")
      assert.has_error(function() F.dropout2d(luann.ones(2, 3, 2, 2), 0.5, 1) end,
        "dropout2d: bad argument #3 'training' (boolean expected, got number)")
      assert.has_error(function() F.dropout2d(luann.ones(2, 3, 2), -0.1) end,
        "dropout2d: bad argument #2 'p' (-0.1 out of range [0, 1])")
    end)
  end)

  describe("Unflatten", function()
    it("splits one dim into several, -1 inferred", function()
      local x = luann.arange(24):view(2, 12)
      assert.are.same({ 2, 3, 4 }, nn.Unflatten(2, { 3, 4 })(x).shape)
      assert.are.same({ 2, 2, 3, 2 }, nn.Unflatten(-1, { 2, -1, 2 })(x).shape)
      assert.are.same({ 1, 2, 12 }, nn.Unflatten(1, { 1, 2 })(x).shape)
      assert.are.same({ 2, 12 }, nn.Unflatten(2, { 12 })(x).shape)
      assert.are.same(x:view(2, 3, 4):tolist(), nn.Unflatten(2, { 3, 4 })(x):tolist())
      local xt = x:t() -- a non-contiguous input
      assert.are.same(xt:contiguous():view(3, 4, 2):tolist(), nn.Unflatten(1, { 3, 4 })(xt):tolist())
      assert.are.same({ 4, 1, 28, 28 }, nn.Unflatten(2, { 1, 28, 28 })(luann.zeros(4, 784)).shape)
    end)

    it("undoes Flatten and passes gradients back", function()
      local x = luann.randn(3, 2, 5, { dtype = "float64", requires_grad = true })
      local y = nn.Unflatten(2, { 2, 5 })(nn.Flatten()(x))
      assert.are.same(x:tolist(), y:tolist())
      assert.is_true(gradcheck(function(a) return nn.Unflatten(1, { 3, 1 })(a) end, { x }))
    end)

    it("checks the sizes and the dim", function()
      local x = luann.zeros(2, 6)
      assert.has_error(function() nn.Unflatten(2, { 4, -1 })(x) end,
        "nn.Unflatten: unflattened_size (4, -1) does not fit dim 2 of size 6")
      assert.has_error(function() nn.Unflatten(2, { 4, 2 })(x) end,
        "nn.Unflatten: unflattened_size (4, 2) does not fit dim 2 of size 6")
      assert.has_error(function() nn.Unflatten(3, { 1 })(x) end,
        "nn.Unflatten: dim 3 out of range for a tensor of 2 dims")
      assert.has_error(function() nn.Unflatten(2, { -1, -1 }) end,
        "nn.Unflatten: bad argument #2 'unflattened_size' (only one size can be -1)")
      assert.has_error(function() nn.Unflatten(2, { 2, -2 }) end,
        "nn.Unflatten: bad argument #2 'unflattened_size' (must be >= -1, got -2)")
      assert.has_error(function() nn.Unflatten(2, 6) end,
        "nn.Unflatten: bad argument #2 'unflattened_size' (list of sizes expected, got number)")
      assert.has_error(function() nn.Unflatten(2, {}) end,
        "nn.Unflatten: bad argument #2 'unflattened_size' (empty list)")
      assert.has_error(function() nn.Unflatten(0, { 2 }) end,
        "nn.Unflatten: bad argument #1 'dim' (dims are 1-based, got 0)")
      assert.has_error(function() nn.Unflatten(2, { 2 })(3) end,
        "nn.Unflatten: bad argument #1 'input' (tensor expected, got number)")
    end)
  end)

  describe("luann.nn layer loading", function()
    it("finds a layer by its file, once", function()
      assert.are.equal(require "luann.nn.ELU", nn.ELU)
      assert.are.equal(nn.ELU, rawget(nn, "ELU"))
    end)

    it("lists every built-in layer to pairs and the REPL's completion", function()
      -- in the executable, where the embedded files are in package.preload
      local exe = (os.getenv("LUANN_BUILD") or "build") .. "/luann"
      local script = "local seen = {} for k in pairs(luann.nn) do seen[#seen + 1] = k end "
        .. "table.sort(seen) print(table.concat(seen, ' ')) "
        .. "print(getmetatable(luann.nn).methods.Mish, rawget(luann.nn, 'Mish') ~= nil)"
      local p = assert(io.popen(exe .. " -e \"" .. script .. "\" 2>&1"))
      local out = p:read("a")
      p:close()
      for _, name in ipairs({ "Linear", "Sequential", "ELU", "Embedding", "Unflatten", "Module",
        "functional" }) do
        assert.matches("%f[%w]" .. name .. "%f[%W]", out, nil, false, name)
      end
      assert.matches("\ntrue\ttrue\n$", out)
    end)

    it("names an unknown layer", function()
      assert.has_error(function() return nn.Conv3d end, "luann.nn has no 'Conv3d'")
      assert.has_error(function() return nn.relu end, "luann.nn has no 'relu'")
    end)
  end)
end)

-- ---- the same on OpenCL ------------------------------------------------------

describe("luann.nn composites on OpenCL #opencl", function()
  if not cmp.HAVE then return end -- spec/opencl_spec.lua says why

  -- f on both devices, float inputs requiring grad: the outputs and the
  -- gradients of a fixed random weighting of them agree (float32 tolerance).
  local function both(f, inputs, what) cmp.both(f, inputs, { grad = true, what = what }) end

  setup(function() luann.manual_seed(7) end)

  it("match the CPU forward and backward", function()
    local x = luann.randn(2, 3, 2, 2) * 3
    x[1][1][1][1] = 0 -- a kink
    x[1][2][1][1] = 3
    for _, case in ipairs(UNARY) do both(case[2], { x }, case[1]) end
    local big = luann.tensor({ -100, -30, 30, 100 }, { dtype = "float32" })
    both(F.mish, { big }, "mish large")
    both(F.logsigmoid, { big }, "logsigmoid large")
    both(F.softplus, { big }, "softplus large")
    both(F.prelu, { x, luann.tensor({ 0.25 }) }, "prelu shared")
    both(F.prelu, { x, luann.tensor({ 0.1, 0.2, -0.3 }) }, "prelu per channel")
  end)

  it("match the CPU for embedding and dropout2d", function()
    local idx = luann.tensor({ { 1, 4, 2 }, { 2, 2, 3 } }, { dtype = "int64" })
    both(function(i, w) return F.embedding(i, w) end, { idx, luann.randn(4, 3) }, "embedding")
    both(function(i, w) return F.embedding(i, w, 2) end, { idx, luann.randn(4, 3) }, "embedding padding")
    both(function(a)
      luann.manual_seed(9) -- the same draws on both devices
      return F.dropout2d(a, 0.5)
    end, { luann.randn(3, 4, 2, 2) }, "dropout2d")
  end)
end)
