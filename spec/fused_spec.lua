-- fused_spec.lua: the fused training ops of bindings/lnn.c: optimizer steps
-- (core/op_optim.c, core/cpu_optim.c) and the cross entropy / nll losses
-- (core/op_loss.c). References: updates and losses worked out by hand,
-- naive float64 Lua loops of torch.optim's and torch.nn.functional's
-- formulas, and a few values printed by PyTorch 1.13 for the same inputs.
local luann = require "luann"
local gradcheck = luann.autograd.gradcheck

-- ---- helpers ----------------------------------------------------------------

local function f64(v, grad) return luann.tensor(v, { dtype = "float64", requires_grad = grad }) end
local function long(v) return luann.tensor(v, { dtype = "int64" }) end

local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  return err
end

local flat = require("helpers").flat

-- Every element of got within tol (relative to max(1, |want|)) of want.
local function assert_close(want, got, tol, what)
  local w = flat(want)
  local g = flat(type(got) == "userdata" and got:tolist() or got)
  assert.equal(#w, #g, what)
  for i = 1, #w do
    local ok = w[i] == g[i] or math.abs(w[i] - g[i]) <= tol * math.max(1, math.abs(w[i]))
    if not ok then
      error(("%s: element %d is %.17g, expected %.17g"):format(what or "values", i, g[i], w[i]), 2)
    end
  end
end

local function copy(list)
  local c = {}
  for i, v in ipairs(list) do c[i] = v end
  return c
end

-- ---- optimizer references: torch.optim's algorithms, element by element ----

local ref = {}

function ref.sgd(p, g, st, o)
  local mom, damp, wd = o.momentum or 0, o.dampening or 0, o.weight_decay or 0
  for i = 1, #p do
    local d = g[i] + wd * p[i]
    if mom ~= 0 then
      st.buf[i] = st.first and d or mom * st.buf[i] + (1 - damp) * d
      d = o.nesterov and d + mom * st.buf[i] or st.buf[i]
    end
    p[i] = p[i] - o.lr * d
  end
end

function ref.adam(p, g, st, o)
  local b1, b2, eps, wd = o.beta1 or 0.9, o.beta2 or 0.999, o.eps or 1e-8, o.weight_decay or 0
  local bc1, bc2 = 1 - b1 ^ o.step, 1 - b2 ^ o.step
  for i = 1, #p do
    local gi = g[i]
    if o.decoupled then p[i] = p[i] * (1 - o.lr * wd) else gi = gi + wd * p[i] end
    st.m[i] = b1 * st.m[i] + (1 - b1) * gi
    st.v[i] = b2 * st.v[i] + (1 - b2) * gi * gi
    local v = st.v[i]
    if o.amsgrad then
      st.vmax[i] = math.max(st.vmax[i], v)
      v = st.vmax[i]
    end
    p[i] = p[i] - o.lr / bc1 * st.m[i] / (math.sqrt(v) / math.sqrt(bc2) + eps)
  end
end

function ref.rmsprop(p, g, st, o)
  local a, eps, wd, mom = o.alpha or 0.99, o.eps or 1e-8, o.weight_decay or 0, o.momentum or 0
  for i = 1, #p do
    local gi = g[i] + wd * p[i]
    st.sq[i] = a * st.sq[i] + (1 - a) * gi * gi
    local avg
    if o.centered then
      st.ga[i] = a * st.ga[i] + (1 - a) * gi
      avg = math.sqrt(st.sq[i] - st.ga[i] ^ 2) + eps
    else
      avg = math.sqrt(st.sq[i]) + eps
    end
    if mom > 0 then
      st.buf[i] = mom * st.buf[i] + gi / avg
      p[i] = p[i] - o.lr * st.buf[i]
    else
      p[i] = p[i] - o.lr * gi / avg
    end
  end
end

function ref.adagrad(p, g, st, o)
  local eps, wd = o.eps or 1e-10, o.weight_decay or 0
  local clr = o.lr / (1 + (o.step - 1) * (o.lr_decay or 0))
  for i = 1, #p do
    local gi = g[i] + wd * p[i]
    st.sum[i] = st.sum[i] + gi * gi
    p[i] = p[i] - clr * gi / (math.sqrt(st.sum[i]) + eps)
  end
end

local P0 = { 0.5, -1.25, 2.0, 0.125, -0.75 }
local GRADS = { { 0.1, -0.2, 0.3, -0.4, 0.5 }, { -0.3, 0.25, 0.05, 0.6, -0.1 }, { 0.2, 0.2, -0.5, 0.0, 0.35 } }

-- The configurations of the PyTorch run below: (kind, settings).
local CONFIGS = {
  { "sgd", "sgd", { lr = 0.1 } },
  { "sgd_m", "sgd", { lr = 0.1, momentum = 0.9, dampening = 0.1, weight_decay = 0.01 } },
  { "sgd_n", "sgd", { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.01 } },
  { "adam", "adam", { lr = 0.01 } },
  { "adam_wd_ams", "adam", { lr = 0.01, beta1 = 0.8, beta2 = 0.95, weight_decay = 0.1, amsgrad = true } },
  { "adamw", "adam", { lr = 0.01, weight_decay = 0.1, decoupled = true } },
  { "rms", "rmsprop", { lr = 0.01 } },
  { "rms_all", "rmsprop", { lr = 0.01, alpha = 0.9, momentum = 0.5, centered = true, weight_decay = 0.05 } },
  { "adagrad", "adagrad", { lr = 0.1 } },
  { "adagrad_all", "adagrad", { lr = 0.1, lr_decay = 0.5, weight_decay = 0.1, init = 0.2 } },
}

-- torch.optim (PyTorch 1.13, float64) after the three GRADS steps from P0.
local TORCH = {
  sgd = { 0.5, -1.2749999999999999, 2.0150000000000001, 0.10500000000000001, -0.82500000000000007 },
  sgd_m = { 0.50355200649499998, -1.2499534202875, 1.9446250840799999, 0.13004736104875, -0.89575031239250003 },
  sgd_n = { 0.50488706198049993, -1.2770416992462501, 1.9625365865120001, 0.098760567002625033, -0.95484521880575002 },
  adam = { 0.49475402217659342, -1.2460801892314539, 1.9844814308473917, 0.13060823946534175, -0.77198362922973207 },
  adam_wd_ams = { 0.49084660804910984, -1.2363233694088407, 1.9783461830623346, 0.12927245881594046,
    -0.76824733793657851 },
  adamw = { 0.49327056977648243, -1.2423523006579096, 1.9785152521198437, 0.13021610135895426, -0.76971077821950173 },
  rms = { 0.44125259215239343, -1.2814871537075896, 1.9691427278990008, 0.14166665324074534, -0.88726424079808563 },
  rms_all = { 0.46636889245261637, -1.2338701156669141, 1.9457094270383588, 0.14231393816629231,
    -0.81314008931211534 },
  adagrad = { 0.44141608150685219, -1.2810681752384794, 1.9689958670652805, 0.14179497055275414, -0.8869800323026884 },
  adagrad_all = { 0.47857413600694537, -1.2134861157059529, 1.9227097649013456, 0.14146274887131746,
    -0.81938763730559194 },
}

-- Runs the fused steps of one configuration over GRADS; returns param.
local function run_fused(kind, o, dtype, grads)
  local n = #P0
  local p = luann.tensor(P0, { dtype = dtype })
  local z = function() return luann.zeros(n, { dtype = dtype }) end
  local st = { buf = z(), m = z(), v = z(), vmax = z(), sq = z(), ga = z(), sum = luann.full({ n }, o.init or 0, { dtype = dtype }) }
  for t, g in ipairs(grads or GRADS) do
    local s = {}
    for k, v in pairs(o) do if k ~= "init" then s[k] = v end end
    s.step, s.first_step = t, t == 1
    g = luann.tensor(g, { dtype = dtype })
    if kind == "sgd" then luann._sgd_step(p, g, (o.momentum or 0) ~= 0 and st.buf or nil, s)
    elseif kind == "adam" then luann._adam_step(p, g, st.m, st.v, o.amsgrad and st.vmax or nil, s)
    elseif kind == "rmsprop" then
      luann._rmsprop_step(p, g, st.sq, (o.momentum or 0) > 0 and st.buf or nil, o.centered and st.ga or nil, s)
    else
      s.initial_accumulator_value = o.init
      luann._adagrad_step(p, g, st.sum, s)
    end
  end
  return p
end

local function run_ref(kind, o, grads)
  local p, n = copy(P0), #P0
  local zeros = function() local z = {} for i = 1, n do z[i] = 0 end return z end
  local st = { buf = zeros(), m = zeros(), v = zeros(), vmax = zeros(), sq = zeros(), ga = zeros(), sum = {} }
  for i = 1, n do st.sum[i] = o.init or 0 end
  for t, g in ipairs(grads or GRADS) do
    local s = setmetatable({ step = t }, { __index = o })
    st.first = t == 1
    ref[kind](p, g, st, s)
  end
  return p
end

-- ---- loss references ----------------------------------------------------------

-- PyTorch's cross_entropy on nested lists: x rows of logits; y 1-based
-- classes or rows of probabilities; o = {weight, ignore, ls, reduction}.
local function ref_ce(x, y, o)
  o = o or {}
  local eps, w, red = o.ls or 0, o.weight, o.reduction or "mean"
  local losses, total = {}, 0
  for i, row in ipairs(x) do
    local c, m, s = #row, -math.huge, 0
    for _, v in ipairs(row) do m = math.max(m, v) end
    for _, v in ipairs(row) do s = s + math.exp(v - m) end
    local lp = {}
    for k, v in ipairs(row) do lp[k] = v - m - math.log(s) end
    if o.logprobs then lp = row end
    local wk = function(k) return w and w[k] or 1 end
    if type(y[i]) == "table" then
      local l = 0
      for k = 1, c do l = l - ((1 - eps) * y[i][k] + eps / c) * wk(k) * lp[k] end
      losses[i], total = l, total + 1
    elseif y[i] == o.ignore then
      losses[i] = 0
    else
      local smooth = 0
      for k = 1, c do smooth = smooth - wk(k) * lp[k] end
      losses[i] = (1 - eps) * -wk(y[i]) * lp[y[i]] + eps / c * smooth
      total = total + wk(y[i])
    end
  end
  if red == "none" then return losses end
  local sum = 0
  for _, l in ipairs(losses) do sum = sum + l end
  return red == "sum" and sum or sum / total
end

local X = { { 0.5, -1.2, 2.0, 0.1 }, { 1.5, 0.3, -0.7, 2.2 }, { -0.4, 0.9, 0.0, -2.5 } }
local Y = { 3, 1, 4 }
local W = { 0.2, 1.0, 3.0, 0.5 }
local PROBS = { { 0.1, 0.2, 0.3, 0.4 }, { 1.0, 0, 0, 0 }, { 0.25, 0.25, 0.25, 0.25 } }

local function ce(x, y, o)
  o = o or {}
  local w = o.weight and luann.tensor(o.weight, { dtype = o.wdtype or x.dtype }) or nil
  return luann._cross_entropy(x, y, w, o.ignore, o.ls or 0, o.reduction or "mean")
end

describe("fused", function()
  describe("_sgd_step", function()
    it("takes plain steps p - lr * g", function()
      local p = f64({ 1, -2, 3 })
      luann._sgd_step(p, f64({ 0.5, 0.25, -1 }), nil, { lr = 0.1 })
      assert_close({ 0.95, -2.025, 3.1 }, p, 1e-15)
    end)

    it("uses momentum: two steps worked by hand", function()
      -- buf1 = g1 = 0.5, p1 = 1 - 0.1*0.5 = 0.95
      -- buf2 = 0.9*0.5 + (-1) = -0.55, p2 = 0.95 + 0.055 = 1.005
      local p, buf = f64({ 1 }), f64({ 0 })
      luann._sgd_step(p, f64({ 0.5 }), buf, { lr = 0.1, momentum = 0.9, first_step = true })
      assert_close({ 0.95 }, p, 1e-15)
      assert_close({ 0.5 }, buf, 1e-15)
      luann._sgd_step(p, f64({ -1 }), buf, { lr = 0.1, momentum = 0.9 })
      assert_close({ -0.55 }, buf, 1e-15)
      assert_close({ 1.005 }, p, 1e-15)
    end)

    it("uses Nesterov momentum: two steps worked by hand", function()
      -- d1 = 0.5 + 0.9*0.5 = 0.95, p1 = 0.905
      -- buf2 = -0.55, d2 = -1 + 0.9*(-0.55) = -1.495, p2 = 0.905 + 0.1495 = 1.0545
      local p, buf = f64({ 1 }), f64({ 0 })
      local s = { lr = 0.1, momentum = 0.9, nesterov = true, first_step = true }
      luann._sgd_step(p, f64({ 0.5 }), buf, s)
      assert_close({ 0.905 }, p, 1e-15)
      s.first_step = false
      luann._sgd_step(p, f64({ -1 }), buf, s)
      assert_close({ 1.0545 }, p, 1e-15)
    end)

    it("applies dampening after the first step and weight decay to the gradient", function()
      -- d1 = 0.5 + 0.1*1 = 0.6 = buf1, p1 = 0.94; d2 = -1 + 0.1*0.94 = -0.906,
      -- buf2 = 0.9*0.6 + 0.5*(-0.906) = 0.087, p2 = 0.94 - 0.0087
      local p, buf = f64({ 1 }), f64({ 0 })
      local s = { lr = 0.1, momentum = 0.9, dampening = 0.5, weight_decay = 0.1, first_step = true }
      luann._sgd_step(p, f64({ 0.5 }), buf, s)
      s.first_step = false
      luann._sgd_step(p, f64({ -1 }), buf, s)
      assert_close({ 0.087 }, buf, 1e-15)
      assert_close({ 0.9313 }, p, 1e-15)
    end)
  end)

  describe("_adam_step", function()
    it("takes two steps worked by hand", function()
      -- t=1: m = 0.05, v = 0.00025, m^ = 0.5, v^ = 0.25: p = 1 - 0.1*0.5/(0.5 + 1e-8)
      -- t=2: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225,
      --      m^ = 0.02/0.19, v^ = 0.00031225/0.001999
      local p, m, v = f64({ 1 }), f64({ 0 }), f64({ 0 })
      local s = { lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, step = 1 }
      luann._adam_step(p, f64({ 0.5 }), m, v, nil, s)
      local p1 = 1 - 0.1 * 0.5 / (0.5 + 1e-8)
      assert_close({ 0.05 }, m, 1e-15)
      assert_close({ 0.00025 }, v, 1e-15)
      assert_close({ p1 }, p, 1e-15)
      s.step = 2
      luann._adam_step(p, f64({ -0.25 }), m, v, nil, s)
      assert_close({ 0.02 }, m, 1e-15)
      assert_close({ 0.00031225 }, v, 1e-15)
      assert_close({ p1 - 0.1 * (0.02 / 0.19) / (math.sqrt(0.00031225 / 0.001999) + 1e-8) }, p, 1e-14)
    end)

    it("keeps the running maximum of v with amsgrad", function()
      local p, m, v, vmax = f64({ 1 }), f64({ 0 }), f64({ 0 }), f64({ 0 })
      local s = { lr = 0.1, beta1 = 0.9, beta2 = 0.5, amsgrad = true, step = 1 }
      luann._adam_step(p, f64({ 2 }), m, v, vmax, s)
      assert_close({ 2 }, vmax, 1e-15) -- v = 0.5*4
      s.step = 2
      luann._adam_step(p, f64({ 0 }), m, v, vmax, s)
      assert_close({ 1 }, v, 1e-15)
      assert_close({ 2 }, vmax, 1e-15)
    end)

    it("decays the weights themselves when decoupled (AdamW)", function()
      -- p = 2*(1 - 0.1*0.5) = 1.9 before the (zero-gradient) update
      local p = f64({ 2 })
      luann._adam_step(p, f64({ 0 }), f64({ 0 }), f64({ 0 }), nil,
        { lr = 0.1, weight_decay = 0.5, decoupled = true, step = 1 })
      assert_close({ 1.9 }, p, 1e-15)
    end)
  end)

  describe("_rmsprop_step", function()
    it("takes a step worked by hand", function()
      -- sq = 0.01*0.25 = 0.0025, avg = 0.05 + 1e-8, p = 1 - 0.01*0.5/avg
      local p, sq = f64({ 1 }), f64({ 0 })
      luann._rmsprop_step(p, f64({ 0.5 }), sq, nil, nil, { lr = 0.01 })
      assert_close({ 0.0025 }, sq, 1e-15)
      assert_close({ 1 - 0.005 / (0.05 + 1e-8) }, p, 1e-15)
    end)

    it("centers by the gradient average and keeps momentum", function()
      -- sq = 0.1*0.25, ga = 0.1*0.5, avg = sqrt(0.025 - 0.0025) + 1e-8,
      -- buf = 0.5/avg, p = 1 - 0.01*buf
      local p, sq, buf, ga = f64({ 1 }), f64({ 0 }), f64({ 0 }), f64({ 0 })
      luann._rmsprop_step(p, f64({ 0.5 }), sq, buf, ga, { lr = 0.01, alpha = 0.9, momentum = 0.5, centered = true })
      local avg = math.sqrt(0.025 - 0.0025) + 1e-8
      assert_close({ 0.05 }, ga, 1e-15)
      assert_close({ 0.5 / avg }, buf, 1e-15)
      assert_close({ 1 - 0.01 * 0.5 / avg }, p, 1e-15)
    end)
  end)

  describe("_adagrad_step", function()
    it("takes two steps worked by hand, with lr_decay", function()
      -- t=1: sum = 0.25, p = 1 - 0.1*0.5/(0.5 + 1e-10)
      -- t=2: sum = 0.5, clr = 0.1/(1 + 0.5), p -= clr*0.5/(sqrt(0.5) + 1e-10)
      local p, sum = f64({ 1 }), f64({ 0 })
      luann._adagrad_step(p, f64({ 0.5 }), sum, { lr = 0.1, lr_decay = 0.5, step = 1 })
      local p1 = 1 - 0.05 / (0.5 + 1e-10)
      assert_close({ p1 }, p, 1e-15)
      luann._adagrad_step(p, f64({ 0.5 }), sum, { lr = 0.1, lr_decay = 0.5, step = 2 })
      assert_close({ 0.5 }, sum, 1e-15)
      assert_close({ p1 - 0.1 / 1.5 * 0.5 / (math.sqrt(0.5) + 1e-10) }, p, 1e-15)
    end)
  end)

  describe("optimizer steps", function()
    it("match torch.optim over three steps in float64", function()
      for _, c in ipairs(CONFIGS) do
        assert_close(TORCH[c[1]], run_fused(c[2], c[3], "float64"), 1e-14, c[1])
        assert_close(TORCH[c[1]], run_ref(c[2], c[3]), 1e-14, c[1] .. " (reference)")
      end
    end)

    it("match the float64 reference in float32 to float32 precision", function()
      for _, c in ipairs(CONFIGS) do
        assert_close(run_ref(c[2], c[3]), run_fused(c[2], c[3], "float32"), 2e-6, c[1])
        assert.equal("float32", run_fused(c[2], c[3], "float32").dtype)
      end
    end)

    it("update large parameters (split over threads) like small ones", function()
      local n = 70001
      local p0, g = {}, {}
      for i = 1, n do p0[i], g[i] = math.sin(i), math.cos(i * 0.37) end
      local p, m, v = luann.tensor(p0, { dtype = "float64" }), luann.zeros(n, { dtype = "float64" }),
        luann.zeros(n, { dtype = "float64" })
      luann._adam_step(p, luann.tensor(g, { dtype = "float64" }), m, v, nil, { lr = 0.01, step = 1 })
      local st = { m = {}, v = {} }
      for i = 1, n do st.m[i], st.v[i] = 0, 0 end
      ref.adam(p0, g, st, { lr = 0.01, step = 1 })
      assert_close(p0, p, 1e-14)
    end)

    it("accept strided gradients and empty parameters", function()
      local p = f64({ { 1, 2 }, { 3, 4 } })
      local g = f64({ { 1, 2 }, { 3, 4 } }):t()
      luann._sgd_step(p, g, nil, { lr = 1 })
      assert.same({ { 0, -1 }, { 1, 0 } }, p:tolist())
      local e = luann.zeros(0)
      luann._adam_step(e, luann.zeros(0), luann.zeros(0), luann.zeros(0), nil, { lr = 1, step = 1 })
      assert.equal(0, e:numel())
    end)

    it("write leaves that require grad without recording, and bump their version", function()
      local p = luann.tensor({ 1, 2 }, { dtype = "float64", requires_grad = true })
      local y = p * p -- saves p for backward
      luann._sgd_step(p, f64({ 1, 1 }), nil, { lr = 0.5 })
      assert.same({ 0.5, 1.5 }, p:tolist())
      assert.is_true(p.is_leaf)
      assert.is_nil(p.grad_fn)
      assert.is_true(p.requires_grad)
      assert.matches("modified by an in%-place operation", err_of(function() y:backward(f64({ 1, 1 })) end))
      local m = f64({ 0, 0 })
      local z = m * 2
      luann._adam_step(p:detach(), f64({ 1, 1 }), m, f64({ 0, 0 }), nil, { lr = 0.1, step = 1 })
      assert.is_false(z.requires_grad) -- nothing recorded either way
    end)

    it("check their tensors", function()
      local p, g = luann.zeros(2), luann.zeros(2)
      assert.equal("sgd_step: grad shape (3,) does not match param shape (2,)",
        err_of(luann._sgd_step, p, luann.zeros(3), nil, { lr = 1 }))
      assert.equal("sgd_step: grad is float64 but param is float32",
        err_of(luann._sgd_step, p, luann.zeros(2, { dtype = "float64" }), nil, { lr = 1 }))
      assert.equal("sgd_step: param must be float32 or float64, got int64",
        err_of(luann._sgd_step, luann.zeros(2, { dtype = "int64" }), g, nil, { lr = 1 }))
      assert.equal("sgd_step: param must be contiguous",
        err_of(luann._sgd_step, luann.zeros(2, 3):t(), luann.zeros(3, 2), nil, { lr = 1 }))
      assert.equal("sgd_step: the momentum buffer is required with these settings",
        err_of(luann._sgd_step, p, g, nil, { lr = 1, momentum = 0.9 }))
      assert.equal("sgd_step: the momentum buffer shares memory with param",
        err_of(luann._sgd_step, p, g, p, { lr = 1, momentum = 0.9 }))
      local q = luann.zeros(3, 2)
      assert.equal("adam_step: exp_avg must be contiguous",
        err_of(luann._adam_step, q, luann.zeros(3, 2), luann.zeros(2, 3):t(), luann.zeros(3, 2), nil,
          { lr = 1, step = 1 }))
      assert.equal("adam_step: exp_avg_sq shape (5,) does not match param shape (2,)",
        err_of(luann._adam_step, p, g, luann.zeros(2), luann.zeros(5), nil, { lr = 1, step = 1 }))
      assert.equal("adam_step: max_exp_avg_sq is required with these settings",
        err_of(luann._adam_step, p, g, luann.zeros(2), luann.zeros(2), nil, { lr = 1, step = 1, amsgrad = true }))
      local m = luann.zeros(2)
      assert.equal("adam_step: the state tensors must not share memory",
        err_of(luann._adam_step, p, g, m, m, nil, { lr = 1, step = 1 }))
      assert.equal("rmsprop_step: grad_avg is required with these settings",
        err_of(luann._rmsprop_step, p, g, luann.zeros(2), nil, nil, { lr = 1, centered = true }))
      assert.equal("adagrad_step: sum is float64 but param is float32",
        err_of(luann._adagrad_step, p, g, luann.zeros(2, { dtype = "float64" }), { lr = 1, step = 1 }))
      assert.matches("bad argument #1 to '[%w._]*sgd_step' %(tensor expected, got number%)",
        err_of(luann._sgd_step, 1, g, nil, { lr = 1 }))
    end)

    it("check their settings", function()
      local p, g = luann.zeros(2), luann.zeros(2)
      assert.equal("sgd_step: setting 'lr' is required", err_of(luann._sgd_step, p, g, nil, {}))
      assert.equal("sgd_step: setting 'momentum' must be a number, got string",
        err_of(luann._sgd_step, p, g, nil, { lr = 1, momentum = "0.9" }))
      assert.equal("sgd_step: setting 'nesterov' must be a boolean, got number",
        err_of(luann._sgd_step, p, g, nil, { lr = 1, nesterov = 1 }))
      assert.equal("sgd_step: invalid learning rate: -1", err_of(luann._sgd_step, p, g, nil, { lr = -1 }))
      assert.equal("sgd_step: Nesterov momentum requires a momentum and zero dampening",
        err_of(luann._sgd_step, p, g, luann.zeros(2), { lr = 1, momentum = 0.9, dampening = 0.1, nesterov = true }))
      assert.equal("adam_step: invalid beta parameter at index 0: 1",
        err_of(luann._adam_step, p, g, luann.zeros(2), luann.zeros(2), nil, { lr = 1, beta1 = 1, step = 1 }))
      assert.equal("adam_step: step must be >= 1, got 0",
        err_of(luann._adam_step, p, g, luann.zeros(2), luann.zeros(2), nil, { lr = 1, step = 0 }))
      assert.equal("adam_step: setting 'step' must be an integer (the step count from 1), got nil",
        err_of(luann._adam_step, p, g, luann.zeros(2), luann.zeros(2), nil, { lr = 1 }))
      assert.equal("rmsprop_step: invalid epsilon value: -1",
        err_of(luann._rmsprop_step, p, g, luann.zeros(2), nil, nil, { lr = 1, eps = -1 }))
      assert.equal("adagrad_step: invalid lr_decay value: -0.5",
        err_of(luann._adagrad_step, p, g, luann.zeros(2), { lr = 1, lr_decay = -0.5, step = 1 }))
      assert.equal("adagrad_step: invalid initial_accumulator_value value: -1",
        err_of(luann._adagrad_step, p, g, luann.zeros(2), { lr = 1, step = 1, initial_accumulator_value = -1 }))
      assert.equal("adagrad_step: invalid weight_decay value: -1",
        err_of(luann._adagrad_step, p, g, luann.zeros(2), { lr = 1, step = 1, weight_decay = -1 }))
    end)
  end)

  describe("_cross_entropy", function()
    local OPTIONS = {
      {}, { weight = W }, { ignore = 1 }, { ls = 0.1 }, { weight = W, ignore = 1, ls = 0.2 },
      { weight = W, ls = 1 },
    }

    it("matches the log-sum-exp reference for every option and reduction", function()
      for _, dt in ipairs({ "float64", "float32" }) do
        for _, o in ipairs(OPTIONS) do
          for _, red in ipairs({ "mean", "sum", "none" }) do
            o.reduction = red
            local got = ce(luann.tensor(X, { dtype = dt }), long(Y), o)
            assert.equal(dt, got.dtype)
            assert.same(red == "none" and { 3 } or {}, got.shape)
            assert_close(ref_ce(X, Y, o), got, dt == "float64" and 1e-14 or 1e-6, red)
          end
        end
        o = nil
      end
    end)

    it("matches PyTorch's values and gradients", function()
      -- torch.nn.functional.cross_entropy (1.13) on X, Y-1, W in float64
      local x = f64(X, true)
      local l = ce(x, long(Y), { weight = W, ignore = 1, ls = 0.2 })
      assert_close({ 0.8768315468584355 }, l, 1e-14)
      l:backward()
      assert_close({ 0.1159895298373767, 0.007425614704062454, -0.19593759451035495, 0.07252244996891577,
        0, 0, 0, 0, 0.0260163074908196, 0.09165954085873407, 0.00021698347806645697, -0.11789283182762014 },
        x.grad, 1e-13)
      assert_close({ 1.8384337580139816 }, ce(f64(X), long(Y)), 1e-14)
      local xp = f64(X, true)
      local lp = ce(xp, f64(PROBS), { weight = W, ls = 0.3 })
      assert_close({ 1.4909086607682072 }, lp, 1e-14)
      lp:backward()
      assert_close({ 0.057503127378993005, -0.05939585198050916, 0.016034131831291796, -0.014141407229775655,
        -0.0037452880076814855, -0.010566358121060737, -0.06969015989150709, 0.08400180602024931,
        0.04566512575117879, 0.14538050487220147, -0.1570118926228093, -0.03403373800057101 }, xp.grad, 1e-13)
    end)

    it("takes class probabilities as targets", function()
      for _, o in ipairs({ {}, { weight = W }, { ls = 0.3 }, { weight = W, ls = 0.3 } }) do
        for _, red in ipairs({ "mean", "sum", "none" }) do
          o.reduction = red
          assert_close(ref_ce(X, PROBS, o), ce(f64(X), f64(PROBS), o), 1e-14, red)
        end
      end
      -- float32 logits with float64 probabilities and weights
      assert_close(ref_ce(X, PROBS, { weight = W }),
        ce(luann.tensor(X), f64(PROBS), { weight = W, wdtype = "float64" }), 1e-6)
    end)

    it("is stable for huge logits", function()
      for _, dt in ipairs({ "float32", "float64" }) do
        local x = luann.tensor({ { 1000, 0, -1000 }, { -1e4, 1e4, 0 } }, { dtype = dt, requires_grad = true })
        local l = ce(x, long({ 2, 2 }), { reduction = "none" })
        assert_close({ 1000, 0 }, l, 1e-6)
        l:backward(luann.ones(2, { dtype = dt }))
        assert_close({ { 1, -1, 0 }, { 0, 0, 0 } }, x.grad, 1e-6)
      end
    end)

    it("has finite-difference gradients for every option", function()
      for _, o in ipairs(OPTIONS) do
        for _, red in ipairs({ "mean", "sum", "none" }) do
          o.reduction = red
          assert.is_true(gradcheck(function(x) return ce(x, long(Y), o) end, { f64(X, true) }))
        end
      end
    end)

    it("has gradients w.r.t. logits and probability targets", function()
      for _, red in ipairs({ "mean", "sum", "none" }) do
        local o = { weight = W, ls = 0.25, reduction = red }
        assert.is_true(gradcheck(function(x, t) return ce(x, t, o) end, { f64(X, true), f64(PROBS, true) }))
      end
    end)

    it("takes unbatched (C) input with a 0-dim target", function()
      local x = f64({ 0.5, -1.2, 2.0, 0.1 }, true)
      local l = luann._cross_entropy(x, luann.tensor(3, { dtype = "int64" }), nil, nil, 0, "none")
      assert.same({}, l.shape)
      assert_close({ ref_ce({ X[1] }, { 3 }) }, l, 1e-14)
      assert.is_true(gradcheck(function(a)
        return luann._cross_entropy(a, luann.tensor(3, { dtype = "int64" }))
      end, { x }))
      local lp = luann._cross_entropy(f64({ 0.5, -1.2, 2.0, 0.1 }), f64({ 0.1, 0.2, 0.3, 0.4 }))
      assert_close({ ref_ce({ X[1] }, { PROBS[1] }) }, lp, 1e-14)
    end)

    it("takes (N,C,d) input with (N,d) targets", function()
      -- x[n][c][d]: rows of logits are x[n][.][d]
      local x3 = { { { 0.5, 1.5 }, { -1.2, 0.3 }, { 2.0, -0.7 } }, { { 0.1, -0.4 }, { 2.2, 0.9 }, { 0.0, -2.5 } } }
      local y2 = { { 3, 1 }, { 2, 2 } }
      local rows, ys = {}, {}
      for n = 1, 2 do
        for d = 1, 2 do
          rows[#rows + 1] = { x3[n][1][d], x3[n][2][d], x3[n][3][d] }
          ys[#ys + 1] = y2[n][d]
        end
      end
      local l = luann._cross_entropy(f64(x3), long(y2), nil, nil, 0, "none")
      assert.same({ 2, 2 }, l.shape)
      assert_close(ref_ce(rows, ys, { reduction = "none" }), l, 1e-14)
      assert_close({ ref_ce(rows, ys, { weight = { 1, 2, 3 } }) },
        luann._cross_entropy(f64(x3), long(y2), f64({ 1, 2, 3 })), 1e-14)
      assert.is_true(gradcheck(function(a)
        return luann._cross_entropy(a, long(y2), f64({ 1, 2, 3 }), 2, 0.1, "mean")
      end, { f64(x3, true) }))
    end)

    it("gives NaN for a mean over no counted targets, and handles empty batches", function()
      local all_ignored = ce(f64(X), long({ 2, 2, 2 }), { ignore = 2 })
      assert.is_true(all_ignored:item() ~= all_ignored:item())
      assert.equal(0, ce(f64(X), long({ 2, 2, 2 }), { ignore = 2, reduction = "sum" }):item())
      local empty = luann.zeros(0, 4, { dtype = "float64" })
      local m = ce(empty, luann.zeros(0, { dtype = "int64" }))
      assert.is_true(m:item() ~= m:item())
      assert.equal(0, ce(empty, luann.zeros(0, { dtype = "int64" }), { reduction = "sum" }):item())
      assert.same({ 0 }, ce(empty, luann.zeros(0, { dtype = "int64" }), { reduction = "none" }).shape)
    end)

    it("ignores the ignore_index targets even when out of range", function()
      assert_close({ ref_ce(X, { 3, -100, 4 }, { ignore = -100 }) },
        ce(f64(X), long({ 3, -100, 4 }), { ignore = -100 }), 1e-14)
    end)

    it("records one fused node", function()
      local x = f64(X, true)
      assert.equal("CrossEntropyLossBackward", ce(x, long(Y)).grad_fn)
      assert.equal("CrossEntropyLossBackward", ce(x, f64(PROBS)).grad_fn)
      assert.is_nil(ce(f64(X), long(Y)).grad_fn)
    end)

    it("checks its arguments", function()
      local x = luann.zeros(2, 10)
      assert.equal("cross_entropy: target 11 is out of range for 10 classes",
        err_of(luann._cross_entropy, x, long({ 1, 11 })))
      assert.equal("cross_entropy: target 0 is out of range for 10 classes "
        .. "(class indices are 1-based in luann; add 1 to 0-based labels)",
        err_of(luann._cross_entropy, x, long({ 0, 1 })))
      assert.equal("cross_entropy: target must be int64 class indices or float class probabilities, got uint8",
        err_of(luann._cross_entropy, x, luann.tensor({ 1, 2 }, { dtype = "uint8" })))
      assert.equal("cross_entropy: target shape (3,) does not match input shape (2,10) (expected (2,))",
        err_of(luann._cross_entropy, x, long({ 1, 2, 3 })))
      assert.equal("cross_entropy: target shape (2,3) does not match input shape (2,10) (expected (2,10))",
        err_of(luann._cross_entropy, x, luann.zeros(2, 3)))
      assert.equal('cross_entropy: reduction must be "none", "mean" or "sum", got "avg"',
        err_of(luann._cross_entropy, x, long({ 1, 2 }), nil, nil, 0, "avg"))
      assert.equal("cross_entropy: weight must be a float tensor of shape (10,) (one per class), got float32 of shape (3,)",
        err_of(luann._cross_entropy, x, long({ 1, 2 }), luann.ones(3)))
      assert.equal("cross_entropy: ignore_index is not supported with class probability targets",
        err_of(luann._cross_entropy, x, luann.zeros(2, 10), nil, 1))
      assert.equal("cross_entropy: label_smoothing must be in [0, 1], got 1.5",
        err_of(luann._cross_entropy, x, long({ 1, 2 }), nil, nil, 1.5))
      assert.equal("cross_entropy: input must be float32 or float64, got int64",
        err_of(luann._cross_entropy, luann.zeros(2, 10, { dtype = "int64" }), long({ 1, 2 })))
      assert.equal("cross_entropy: input must have a class dim, got a 0-dim tensor",
        err_of(luann._cross_entropy, luann.tensor(1.0), long({ 1 })))
    end)
  end)

  describe("_nll_loss", function()
    it("averages -w[y] * input[y] over the counted targets", function()
      local lp = { { -1, -2 }, { -3, -4 }, { -0.5, -7 } }
      assert_close({ (2 + 3 + 0.5) / 3 }, luann._nll_loss(f64(lp), long({ 2, 1, 1 })), 1e-15)
      assert_close({ (2 * 2 + 3 + 0.5) / 4 }, luann._nll_loss(f64(lp), long({ 2, 1, 1 }), f64({ 1, 2 })), 1e-15)
      assert_close({ 2 * 2 / 2 }, luann._nll_loss(f64(lp), long({ 2, 1, 1 }), f64({ 1, 2 }), 1), 1e-15)
      assert_close({ 2, 3, 0.5 }, luann._nll_loss(f64(lp), long({ 2, 1, 1 }), nil, nil, "none"), 1e-15)
      assert_close({ 5.5 }, luann._nll_loss(luann.tensor(lp), long({ 2, 1, 1 }), nil, nil, "sum"), 1e-6)
    end)

    it("matches the reference and has finite-difference gradients", function()
      for _, o in ipairs({ {}, { weight = W }, { weight = W, ignore = 3 } }) do
        for _, red in ipairs({ "mean", "sum", "none" }) do
          o.reduction, o.logprobs = red, true
          local w = o.weight and f64(o.weight) or nil
          assert_close(ref_ce(X, Y, o), luann._nll_loss(f64(X), long(Y), w, o.ignore, red), 1e-14)
          assert.is_true(gradcheck(function(x) return luann._nll_loss(x, long(Y), w, o.ignore, red) end,
            { f64(X, true) }))
        end
      end
    end)

    it("records NllLossBackward and checks its arguments", function()
      assert.equal("NllLossBackward", luann._nll_loss(f64(X, true), long(Y)).grad_fn)
      assert.equal("nll_loss: target 5 is out of range for 4 classes",
        err_of(luann._nll_loss, f64(X), long({ 1, 5, 2 })))
      assert.equal("nll_loss: target must be int64 class indices, got float64",
        err_of(luann._nll_loss, f64(X), f64(PROBS)))
    end)
  end)
end)
