-- luann.multinomial, luann.bernoulli and luann.distributions (Categorical,
-- Normal, Bernoulli): frequencies of many seeded draws against the
-- probabilities, log_prob and entropy against their formulas by hand, and
-- their gradients against hand-derived ones.
local luann = require "luann"
local cmp = require "opencl_compare"
local D = luann.distributions

local function gen(seed) return luann.Generator(seed) end

local function counts(t, k)
  local c = {}
  for i = 1, k do c[i] = 0 end
  for _, v in ipairs(t:reshape(-1):tolist()) do c[v] = c[v] + 1 end
  return c
end

local function close(expected, actual, tol, what)
  assert.are.equal(#expected, #actual, what)
  for i = 1, #expected do
    assert.is_true(math.abs(expected[i] - actual[i]) <= tol,
      ("%s element %d: expected %.10g, got %.10g"):format(what or "", i, expected[i], actual[i]))
  end
end

describe("luann.multinomial", function()
  it("draws with replacement in proportion to the weights, never a zero weight", function()
    local w = luann.tensor({ 1, 0, 6, 3 }, { dtype = "float32" }) -- not normalised
    local s = luann.multinomial(w, 20000, { replacement = true, generator = gen(1) })
    assert.are.same({ 20000 }, s.shape)
    assert.are.equal("int64", s.dtype)
    local c = counts(s, 4)
    assert.are.equal(0, c[2])
    close({ 0.1, 0, 0.6, 0.3 }, { c[1] / 20000, c[2] / 20000, c[3] / 20000, c[4] / 20000 }, 0.015)
  end)

  it("draws each row of a 2-D input from its own probabilities", function()
    local p = luann.tensor({ { 0, 0, 1 }, { 1, 0, 0 } }, { dtype = "float64" })
    local s = luann.multinomial(p, 5, { replacement = true, generator = gen(2) })
    assert.are.same({ { 3, 3, 3, 3, 3 }, { 1, 1, 1, 1, 1 } }, s:tolist())
  end)

  it("draws without replacement: distinct, first picks in proportion", function()
    local p = luann.tensor({ 0.5, 0, 0.3, 0.2 }, { dtype = "float64" })
    local all = luann.multinomial(p, 3, { generator = gen(3) }):tolist()
    table.sort(all)
    assert.are.same({ 1, 3, 4 }, all)
    local rows = p:view(1, 4):expand(5000, 4)
    local first = luann.multinomial(rows, 1, { generator = gen(4) })
    assert.are.same({ 5000, 1 }, first.shape)
    local c = counts(first, 4)
    close({ 0.5, 0, 0.3, 0.2 }, { c[1] / 5000, c[2] / 5000, c[3] / 5000, c[4] / 5000 }, 0.025)
  end)

  it("repeats itself for a seeded generator", function()
    local p = luann.tensor({ 0.2, 0.3, 0.5 })
    assert.are.same(luann.multinomial(p, 50, { replacement = true, generator = gen(9) }):tolist(),
      luann.multinomial(p, 50, { replacement = true, generator = gen(9) }):tolist())
  end)

  it("names bad input", function()
    local p = luann.tensor({ 0.5, 0.5 })
    assert.has_error(function() luann.multinomial(luann.tensor({ 0.5, -0.1 }), 1) end,
      "multinomial: probabilities must be finite and non-negative")
    assert.has_error(function() luann.multinomial(luann.tensor({ 0 / 0, 1 }), 1) end,
      "multinomial: probabilities must be finite and non-negative")
    assert.has_error(function() luann.multinomial(luann.zeros(2), 1) end,
      "multinomial: every row of probabilities must have a positive sum")
    assert.has_error(function() luann.multinomial(p, 3) end,
      "multinomial: cannot draw 3 samples without replacement from 2 categories with nonzero probability")
    assert.has_error(function() luann.multinomial(luann.ones(2, 2, 2), 1) end,
      "multinomial: expected a non-empty (K) or (N, K) tensor of probabilities, got shape (2,2,2)")
    assert.has_error(function() luann.multinomial(luann.tensor({ 1, 2 }), 1) end,
      "multinomial: expected float32 or float64 probabilities, got int64")
    assert.has_error(function() luann.multinomial(p, 1, { replacment = true }) end)
    assert.has_error(function() luann.multinomial(p, 0) end)
  end)
end)

describe("luann.bernoulli", function()
  it("gives ones with probability p, exactly 0 and 1 at the ends", function()
    local p = luann.tensor({ 0, 1, 0.25 }, { dtype = "float64" }):view(3, 1):expand(3, 20000):contiguous()
    local s = luann.bernoulli(p, { generator = gen(5) })
    assert.are.equal("float64", s.dtype)
    local m = s:mean(2):tolist()
    assert.are.equal(0, m[1])
    assert.are.equal(1, m[2])
    assert.is_true(math.abs(m[3] - 0.25) < 0.01)
    assert.are.equal(0, (s:ne(0):logical_and(s:ne(1))):sum():item())
  end)

  it("refuses probabilities outside [0, 1]", function()
    assert.has_error(function() luann.bernoulli(luann.tensor({ 1.5 })) end,
      "bernoulli: probabilities must lie in [0, 1]")
    assert.has_error(function() luann.bernoulli(luann.tensor({ 1 })) end,
      "bernoulli: expected float32 or float64 probabilities, got int64")
  end)
end)

describe("distributions.Categorical", function()
  local logits_list = { { 0.5, -1, 2 }, { 0, 0, 0 } }

  local function log_softmax(row)
    local m, s = -math.huge, 0
    for _, v in ipairs(row) do m = math.max(m, v) end
    for _, v in ipairs(row) do s = s + math.exp(v - m) end
    local r = {}
    for i, v in ipairs(row) do r[i] = v - m - math.log(s) end
    return r
  end

  it("scores and measures as the formulas say", function()
    local l = luann.tensor(logits_list, { dtype = "float64", requires_grad = true })
    local d = D.Categorical({ logits = l })
    assert.are.same({ 2 }, d.batch_shape)
    local lp = d:log_prob(luann.tensor({ 3, 1 }))
    local r1, r2 = log_softmax(logits_list[1]), log_softmax(logits_list[2])
    close({ r1[3], r2[1] }, lp:tolist(), 1e-12, "log_prob")
    local h = {}
    for k, r in ipairs({ r1, r2 }) do
      h[k] = 0
      for _, v in ipairs(r) do h[k] = h[k] - math.exp(v) * v end
    end
    close(h, d:entropy():tolist(), 1e-12, "entropy")
    -- d log p_k / d l_j = [j == k] - p_j
    lp:sum():backward()
    local g = l.grad:tolist()
    close({ -math.exp(r1[1]), -math.exp(r1[2]), 1 - math.exp(r1[3]) }, g[1], 1e-12, "grad row 1")
    close({ 1 - 1 / 3, -1 / 3, -1 / 3 }, g[2], 1e-12, "grad row 2")
  end)

  it("takes probabilities, normalising them, and a zero probability has zero entropy part", function()
    local d = D.Categorical({ probs = luann.tensor({ 2, 0, 2 }, { dtype = "float64" }) })
    close({ 0.5, 0, 0.5 }, d.probs:tolist(), 1e-15)
    close({ math.log(2) }, { d:entropy():item() }, 1e-12)
    close({ math.log(0.5) }, { d:log_prob(luann.tensor(1)):item() }, 1e-12)
  end)

  it("samples sample_shape .. batch_shape in proportion", function()
    local d = D.Categorical(luann.tensor({ { 0.7, 0.2, 0.1 }, { 0, 0, 1 } }))
    local s = d:sample({ 4000, 2 }, { generator = gen(6) })
    assert.are.same({ 4000, 2, 2 }, s.shape)
    local c = counts(s:select(3, 1), 3)
    close({ 0.7, 0.2, 0.1 }, { c[1] / 8000, c[2] / 8000, c[3] / 8000 }, 0.02)
    assert.are.equal(8000, counts(s:select(3, 2), 3)[3])
    assert.are.same({ 2 }, d:sample().shape)
  end)

  it("names bad arguments", function()
    local l = luann.zeros(2, 3)
    assert.has_error(function() D.Categorical({ probs = l, logits = l }) end,
      "Categorical: give exactly one of probs and logits")
    assert.has_error(function() D.Categorical({ prob = l }) end)
    local d = D.Categorical({ logits = l })
    assert.has_error(function() d:log_prob(luann.tensor({ 4, 1 })) end,
      "Categorical.log_prob: values must lie in 1..3")
    assert.has_error(function() d:log_prob(luann.tensor({ 1.0, 2.0 })) end,
      "Categorical.log_prob: value must be int64 category indices, got float32")
    assert.has_error(function() d:log_prob(luann.tensor({ 1, 2, 3 })) end,
      "Categorical.log_prob: value of shape (3) does not broadcast with the batch shape (2)")
    assert.has_error(function() d.sample() end, "Categorical.sample: called with '.' instead of ':' (use d:sample())")
  end)
end)

describe("distributions.Normal", function()
  it("scores and measures as the formulas say", function()
    local d = D.Normal(luann.tensor({ 0, 1 }, { dtype = "float64" }), luann.tensor({ 2, 0.5 }, { dtype = "float64" }))
    local x = luann.tensor({ 0.5, 2 }, { dtype = "float64" })
    local function lp(v, m, s) return -((v - m) / s) ^ 2 / 2 - math.log(s) - 0.5 * math.log(2 * math.pi) end
    close({ lp(0.5, 0, 2), lp(2, 1, 0.5) }, d:log_prob(x):tolist(), 1e-12, "log_prob")
    local function h(s) return 0.5 + 0.5 * math.log(2 * math.pi) + math.log(s) end
    close({ h(2), h(0.5) }, d:entropy():tolist(), 1e-12, "entropy")
  end)

  it("rsample carries gradients to loc and scale; sample has none", function()
    local loc = luann.tensor({ 1, -1 }, { dtype = "float64", requires_grad = true })
    local scale = luann.tensor({ 2, 3 }, { dtype = "float64", requires_grad = true })
    local d = D.Normal(loc, scale)
    local z = d:rsample(nil, { generator = gen(7) })
    z:sum():backward()
    assert.are.same({ 1, 1 }, loc.grad:tolist())
    local eps = ((z - loc) / scale):detach():tolist() -- d z / d scale = eps
    close(eps, scale.grad:tolist(), 1e-12, "scale grad")
    assert.is_false(d:sample().requires_grad)
  end)

  it("samples with the given mean and spread", function()
    local d = D.Normal(3.0, 0.5)
    local s = d:sample({ 20000 }, { generator = gen(8) })
    assert.are.same({ 20000 }, s.shape)
    assert.is_true(math.abs(s:mean():item() - 3) < 0.02)
    assert.is_true(math.abs(s:std():item() - 0.5) < 0.02)
  end)

  it("refuses a scale that is not positive and shapes that do not broadcast", function()
    assert.has_error(function() D.Normal(0.0, 0.0) end, "Normal: scale must be positive")
    assert.has_error(function() D.Normal(luann.zeros(2), luann.ones(3)) end,
      "Normal: loc of shape (2) and scale of shape (3) do not broadcast")
  end)
end)

describe("distributions.Bernoulli", function()
  it("scores, measures and differentiates as the formulas say", function()
    local l = luann.tensor({ -0.5, 1.5 }, { dtype = "float64", requires_grad = true })
    local d = D.Bernoulli({ logits = l })
    local p = { 1 / (1 + math.exp(0.5)), 1 / (1 + math.exp(-1.5)) }
    local v = luann.tensor({ 1, 0 }, { dtype = "float64" })
    close({ math.log(p[1]), math.log(1 - p[2]) }, d:log_prob(v):tolist(), 1e-12, "log_prob")
    local function h(q) return -(q * math.log(q) + (1 - q) * math.log(1 - q)) end
    close({ h(p[1]), h(p[2]) }, d:entropy():tolist(), 1e-12, "entropy")
    d:log_prob(v):sum():backward() -- d/dl = value - sigmoid(l)
    close({ 1 - p[1], -p[2] }, l.grad:tolist(), 1e-12, "grad")
  end)

  it("samples in proportion from probs, finite log_prob at p = 0 and 1", function()
    local d = D.Bernoulli({ probs = luann.tensor({ 0.3, 0, 1 }, { dtype = "float64" }) })
    local s = d:sample({ 10000 }, { generator = gen(10) })
    local m = s:mean(1):tolist()
    assert.is_true(math.abs(m[1] - 0.3) < 0.015)
    assert.are.equal(0, m[2])
    assert.are.equal(1, m[3])
    local lp = d:log_prob(luann.tensor({ 1, 0, 1 }, { dtype = "float64" })):tolist()
    assert.is_true(math.abs(lp[1] - math.log(0.3)) < 1e-12)
    assert.is_true(lp[2] > -1e-9 and lp[3] > -1e-9)
    assert.has_error(function() D.Bernoulli({ probs = luann.tensor({ 2.0 }) }) end,
      "Bernoulli: probs must lie in [0, 1]")
  end)
end)

if cmp.HAVE then
  describe("distributions on OpenCL", function()
    it("give the CPU's log_prob and entropy, and samples in range", function()
      local idx = luann.tensor({ 2, 3 })
      cmp.both(function(l)
        local d = D.Categorical({ logits = l })
        return { d:log_prob(idx:to(l.device)), d:entropy() }
      end, { luann.randn(2, 3) }, { grad = true, what = "Categorical" })
      cmp.both(function(loc, scale)
        local d = D.Normal(loc, scale:abs() + 0.5)
        return { d:log_prob(loc * 0.5), d:entropy() }
      end, { luann.randn(3), luann.randn(3) }, { grad = true, what = "Normal" })
      local d = D.Categorical({ probs = luann.tensor({ 0.2, 0, 0.8 }):to("opencl") })
      local s = d:sample({ 200 })
      assert.are.equal("opencl:0", s.device)
      local c = counts(s:cpu(), 3)
      assert.are.equal(0, c[2])
      assert.are.equal(200, c[1] + c[3])
    end)
  end)
end
