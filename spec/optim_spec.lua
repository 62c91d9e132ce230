-- luann.optim: optimizer steps against references worked out here (SGD
-- with momentum, two steps of Adam) and against values PyTorch 1.13 prints
-- for the same program (p = (1, -2, 0.5), loss = sum(c p^2) / 2 with
-- c = (0.5, 1.5, -3), so grad = c p), plus the schedulers' lr sequences.
local luann = require "luann"
local nn = require "luann.nn"
local optim = require "luann.optim"

local C = { 0.5, 1.5, -3 }

local function close(expected, actual, tol)
  tol = tol or 1e-9
  if type(expected) == "table" then
    assert.are.equal(#expected, #actual)
    for i = 1, #expected do close(expected[i], actual[i], tol) end
    return
  end
  assert(math.abs(expected - actual) <= tol * (1 + math.abs(expected)),
    string.format("expected %.15g, got %.15g", expected, actual))
end

-- Runs `steps` steps of make({p}) on the test problem; the p after each.
local function run(make, steps, dtype)
  local p = luann.tensor({ 1, -2, 0.5 }, { dtype = dtype or "float64", requires_grad = true })
  local c = luann.tensor(C, { dtype = dtype or "float64" })
  local opt = make({ p })
  local out = {}
  for s = 1, steps do
    opt:zero_grad()
    local loss = (c * p * p):sum() / 2
    loss:backward()
    opt:step()
    out[s] = p:tolist()
  end
  return out, opt, p
end

-- The same steps in plain Lua numbers, by update rule.
local function reference(update, steps)
  local p = { 1, -2, 0.5 }
  local out = {}
  local state = {}
  for s = 1, steps do
    for i = 1, 3 do
      state[i] = state[i] or {}
      p[i] = update(p[i], C[i] * p[i], state[i], s)
    end
    out[s] = { p[1], p[2], p[3] }
  end
  return out
end

describe("luann.optim", function()
  describe("SGD", function()
    it("takes plain steps p - lr g", function()
      local got = run(function(ps) return optim.SGD(ps, { lr = 0.1 }) end, 3)
      close(reference(function(p, g) return p - 0.1 * g end, 3), got)
    end)

    it("keeps a momentum buffer (g on the first step, then m buf + g)", function()
      local got = run(function(ps) return optim.SGD(ps, { lr = 0.1, momentum = 0.9 }) end, 3)
      local want = reference(function(p, g, st)
        st.buf = st.buf and 0.9 * st.buf + g or g
        return p - 0.1 * st.buf
      end, 3)
      close(want, got)
      close({ { 0.95, -1.7, 0.65 }, { 0.8575, -1.175, 0.98 }, { 0.731375, -0.52625, 1.571 } }, got)
    end)

    it("matches PyTorch with nesterov, weight decay and dampening", function()
      close({ { 0.9031, -1.4262, 0.78405 }, { 0.77427961, -0.77240322, 1.350563805 },
        { 0.624765854791, -0.156204214182, 2.416693672120501 } },
        (run(function(ps) return optim.SGD(ps, { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.01 }) end, 3)))
      close({ { 0.95, -1.7, 0.65 }, { 0.90125, -1.4225, 0.8225 }, { 0.85434375, -1.1770625, 1.032125 } },
        (run(function(ps) return optim.SGD(ps, { lr = 0.1, momentum = 0.5, dampening = 0.5 }) end, 3)))
    end)

    it("updates float32 parameters", function()
      local got = run(function(ps) return optim.SGD(ps, { lr = 0.1 }) end, 2, "float32")
      close({ 0.9025, -1.445, 0.845 }, got[2], 1e-6)
    end)

    it("checks its settings", function()
      local p = { luann.zeros(1, { requires_grad = true }) }
      assert.has_error(function() optim.SGD(p, { lr = -1 }) end, "optim.SGD: invalid learning rate: -1")
      assert.has_error(function() optim.SGD(p, { lr = 0.1, nesterov = true }) end,
        "optim.SGD: Nesterov momentum requires a momentum and zero dampening")
      assert.has_error(function() optim.SGD(p, { learning_rate = 0.1 }) end,
        "optim.SGD: unknown option 'learning_rate' (known: dampening, lr, momentum, nesterov, weight_decay)")
      assert.has_error(function() optim.SGD({}, { lr = 0.1 }) end, "optim.SGD: got an empty parameter list")
      assert.has_error(function() optim.SGD({ p[1], p[1] }, {}) end,
        "optim.SGD: some parameters appear in more than one parameter group")
    end)
  end)

  describe("Adam", function()
    it("follows the moment updates for two steps", function()
      local lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
      local got = run(function(ps) return optim.Adam(ps, { lr = lr }) end, 2)
      local want = {}
      local p = { 1, -2, 0.5 }
      -- step 1: m1 = (1-b1) g1, v1 = (1-b2) g1^2; bias-corrected: mhat = g1, vhat = g1^2
      local m, v, p1 = {}, {}, {}
      for i = 1, 3 do
        local g1 = C[i] * p[i]
        m[i] = (1 - b1) * g1
        v[i] = (1 - b2) * g1 * g1
        local mhat, vhat = m[i] / (1 - b1), v[i] / (1 - b2)
        p1[i] = p[i] - lr * mhat / (math.sqrt(vhat) + eps)
      end
      want[1] = p1
      -- step 2: m2 = b1 m1 + (1-b1) g2, v2 = b2 v1 + (1-b2) g2^2, corrections 1 - b^2
      local p2 = {}
      for i = 1, 3 do
        local g2 = C[i] * p1[i]
        local m2 = b1 * m[i] + (1 - b1) * g2
        local v2 = b2 * v[i] + (1 - b2) * g2 * g2
        p2[i] = p1[i] - lr * (m2 / (1 - b1 ^ 2)) / (math.sqrt(v2 / (1 - b2 ^ 2)) + eps)
      end
      want[2] = p2
      close(want, got)
      -- the first step moves every element by lr (mhat / sqrt(vhat) = sign g)
      close({ 0.9, -1.9, 0.6 }, got[1], 1e-7)
    end)

    it("matches PyTorch with weight decay and amsgrad, and for AdamW", function()
      close({ { 0.900000001666667, -1.9000000003125, 0.599999999310345 },
        { 0.800412231073065, -1.800166486242049, 0.700061310145505 },
        { 0.701586276582261, -1.700623392237877, 0.800294770906197 } },
        (run(function(ps) return optim.Adam(ps, { lr = 0.1, weight_decay = 0.1, amsgrad = true }) end, 3)))
      close({ { 0.899000002, -1.898000000333333, 0.599499999333333 },
        { 0.798554001353225, -1.796289402338487, 0.699023047643867 },
        { 0.699045667923982, -1.695005784426386, 0.798702639306029 } },
        (run(function(ps) return optim.AdamW(ps, { lr = 0.1, betas = { 0.8, 0.9 } }) end, 3)))
    end)

    it("checks its settings", function()
      local p = { luann.zeros(1, { requires_grad = true }) }
      assert.has_error(function() optim.Adam(p, { betas = { 0.9, 1 } }) end,
        "optim.Adam: invalid beta parameter at index 2: 1")
      assert.has_error(function() optim.Adam(p, { eps = -1 }) end, "optim.Adam: invalid epsilon value: -1")
    end)
  end)

  describe("RMSprop and Adagrad", function()
    it("follow their update rules", function()
      local got = run(function(ps) return optim.RMSprop(ps, { lr = 0.01 }) end, 3)
      close(reference(function(p, g, st)
        st.v = 0.99 * (st.v or 0) + 0.01 * g * g
        return p - 0.01 * g / (math.sqrt(st.v) + 1e-8)
      end, 3), got)
      got = run(function(ps) return optim.Adagrad(ps, { lr = 0.1, lr_decay = 0.5, initial_accumulator_value = 0.1 }) end, 3)
      close(reference(function(p, g, st, t)
        st.sum = (st.sum or 0.1) + g * g
        return p - 0.1 / (1 + (t - 1) * 0.5) * g / (math.sqrt(st.sum) + 1e-10)
      end, 3), got)
    end)

    it("match PyTorch with centering and momentum", function()
      close({ { 0.899496235309093, -1.899496221630644, 0.600503774559708 },
        { 0.74130600873653, -1.739298753005315, 0.768734834182162 },
        { 0.549650210257761, -1.540678022938622, 0.991560196999376 } },
        (run(function(ps) return optim.RMSprop(ps, { lr = 0.01, momentum = 0.9, centered = true, weight_decay = 0.1 }) end, 3)))
    end)
  end)

  describe("Optimizer", function()
    it("takes parameter groups with their own settings", function()
      local a = luann.ones(1, { requires_grad = true })
      local b = luann.ones(1, { requires_grad = true })
      local opt = optim.SGD({ { params = { a } }, { params = { b }, lr = 0.5 } }, { lr = 0.1 })
      ;(a * 2 + b * 2):sum():backward()
      opt:step()
      close({ 0.8 }, a:tolist(), 1e-6)
      close({ 0 }, b:tolist(), 1e-6)
      assert.are.equal(0.1, opt.param_groups[1].lr)
      opt:add_param_group({ params = { luann.ones(1, { requires_grad = true }) }, momentum = 0.9 })
      assert.are.equal(3, #opt.param_groups)
      assert.are.equal(0.1, opt.param_groups[3].lr)
      assert.are.equal(0.9, opt.param_groups[3].momentum)
    end)

    it("skips parameters without gradients and clears gradients", function()
      local m = nn.Linear(2, 1)
      local opt = optim.SGD(m:parameters(), { lr = 0.1 })
      local before = m.weight:tolist()
      opt:step()
      assert.are.same(before, m.weight:tolist())
      m(luann.ones(1, 2)):sum():backward()
      opt:zero_grad()
      assert.is_nil(m.weight.grad)
    end)

    it("calls a closure with gradients enabled and returns its loss", function()
      local p = luann.ones(1, { requires_grad = true })
      local opt = optim.SGD({ p }, { lr = 0.1 })
      local guard <close> = luann.no_grad()
      local loss = opt:step(function()
        opt:zero_grad()
        local l = (p * 3):sum()
        l:backward()
        return l
      end)
      close(3, loss:item())
      close({ 0.7 }, p:tolist(), 1e-6)
    end)

    it("saves and restores its state", function()
      local _, opt, p = run(function(ps) return optim.Adam(ps, { lr = 0.1 }) end, 2)
      local sd = opt:state_dict()
      assert.are.equal(2, sd.state[1].step)
      assert.are.same({ 1 }, sd.param_groups[1].params)
      local path = os.tmpname()
      luann.save(path, sd)
      local q = luann.tensor(p:tolist(), { dtype = "float64", requires_grad = true })
      local opt2 = optim.Adam({ q }, { lr = 0.5 })
      opt2:load_state_dict(luann.load(path))
      os.remove(path)
      assert.are.equal(0.1, opt2.param_groups[1].lr)
      local c = luann.tensor(C, { dtype = "float64" })
      for _, pair in ipairs({ { opt, p }, { opt2, q } }) do
        pair[1]:zero_grad()
        ;(c * pair[2] * pair[2]):sum():backward()
        pair[1]:step()
      end
      assert.are.same(p:tolist(), q:tolist())
      assert.has_error(function() opt2:load_state_dict({ state = {}, param_groups = {} }) end,
        "optim.Adam:load_state_dict: loaded state dict has 0 parameter groups, the optimizer has 1")
    end)
  end)

  describe("lr_scheduler", function()
    -- The lr after construction and after each of n steps.
    local function lrs(make, n, opts)
      local opt = optim.SGD({ luann.zeros(1, { requires_grad = true }) }, opts or { lr = 1 })
      local s = make(opt)
      local out, moms = { s:get_last_lr()[1] }, { opt.param_groups[1].momentum }
      for i = 1, n do
        opt:step()
        s:step()
        out[i + 1] = s:get_last_lr()[1]
        moms[i + 1] = opt.param_groups[1].momentum
        assert.are.equal(out[i + 1], opt.param_groups[1].lr)
      end
      return out, moms
    end

    it("StepLR, MultiStepLR and ExponentialLR decay by gamma", function()
      local want = {}
      for e = 0, 9 do want[e + 1] = 0.5 ^ (e // 3) end
      close(want, (lrs(function(o) return optim.lr_scheduler.StepLR(o, 3, 0.5) end, 9)))
      close(want, (lrs(function(o) return optim.StepLR(o, { step_size = 3, gamma = 0.5 }) end, 9)))
      close({ 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01 }, (lrs(function(o) return optim.MultiStepLR(o, { 5, 2 }) end, 6)))
      local ex = {}
      for e = 0, 5 do ex[e + 1] = 0.9 ^ e end
      close(ex, (lrs(function(o) return optim.ExponentialLR(o, 0.9) end, 5)))
    end)

    it("CosineAnnealingLR follows eta_min + (base - eta_min)(1 + cos(pi t / T)) / 2", function()
      local want = {}
      for t = 0, 12 do want[t + 1] = 0.1 + 0.9 * (1 + math.cos(math.pi * t / 5)) / 2 end
      local got = lrs(function(o) return optim.CosineAnnealingLR(o, 5, 0.1) end, 12)
      close(want, got)
      -- PyTorch 1.13's sequence for the same settings
      close({ 1.0, 0.9140576474687263, 0.6890576474687263, 0.41094235253127365, 0.1859423525312737, 0.1,
        0.18594235253127367, 0.41094235253127387, 0.6890576474687268, 0.9140576474687271, 1.0,
        0.9140576474687274, 0.689057647468727 }, got)
    end)

    it("LinearLR moves the factor from start to end", function()
      close({ 0.5, 0.625, 0.75, 0.875, 1, 1 },
        (lrs(function(o) return optim.LinearLR(o, { start_factor = 0.5, total_iters = 4 }) end, 5)))
      close({ 1 / 3, 7 / 15, 9 / 15, 11 / 15, 13 / 15, 1, 1 }, (lrs(function(o) return optim.LinearLR(o) end, 6)))
    end)

    it("OneCycleLR matches PyTorch, momentum included", function()
      local l, m = lrs(function(o) return optim.OneCycleLR(o, 1.0, { total_steps = 10 }) end, 9)
      close({ 0.04, 0.52, 1.0, 0.9504846320134737, 0.8117456539497631, 0.6112620219362893,
        0.38874197806371075, 0.18825834605023697, 0.049519367986526286, 4e-06 }, l)
      close({ 0.95, 0.9, 0.85, 0.854951556604879, 0.8688255099070633, 0.8888739533021842,
        0.9111260466978157, 0.9311744900929366, 0.945048443395121, 0.95 }, m)
      l = lrs(function(o) return optim.OneCycleLR(o, { max_lr = 2.0, total_steps = 10, three_phase = true,
        anneal_strategy = "linear" }) end, 9)
      close({ 0.08, 1.04, 2.0, 1.04, 0.08, 0.0640016, 0.0480032, 0.0320048, 0.0160064, 8e-06 }, l)
      local opt = optim.SGD({ luann.zeros(1, { requires_grad = true }) }, { lr = 1 })
      local s = optim.OneCycleLR(opt, 1.0, { epochs = 1, steps_per_epoch = 2 })
      s:step(); s:step()
      assert.has_error(function() s:step() end,
        "lr_scheduler.OneCycleLR: tried to step 3 times. The specified number of total steps is 2")
    end)

    it("sets Adam's beta1 when cycling momentum", function()
      local opt = optim.Adam({ luann.zeros(1, { requires_grad = true }) })
      optim.OneCycleLR(opt, 0.01, { total_steps = 5 })
      assert.are.same({ 0.95, 0.999 }, opt.param_groups[1].betas)
    end)

    it("saves and restores its position", function()
      local opt = optim.SGD({ luann.zeros(1, { requires_grad = true }) }, { lr = 1 })
      local s = optim.StepLR(opt, 2, 0.5)
      for _ = 1, 3 do s:step() end
      local sd = s:state_dict()
      assert.are.equal(3, sd.last_epoch)
      local opt2 = optim.SGD({ luann.zeros(1, { requires_grad = true }) }, { lr = 1 })
      local s2 = optim.StepLR(opt2, 2, 0.5)
      s2:load_state_dict(sd)
      s:step(); s2:step()
      assert.are.same(s:get_last_lr(), s2:get_last_lr())
      assert.are.equal(0.25, s2:get_last_lr()[1])
    end)

    it("checks its arguments", function()
      local opt = optim.SGD({ luann.zeros(1, { requires_grad = true }) }, { lr = 1 })
      assert.has_error(function() optim.StepLR(opt, 0) end,
        "lr_scheduler.StepLR: bad argument #2 'step_size' (must be >= 1, got 0)")
      assert.has_error(function() optim.StepLR({}, 2) end,
        "lr_scheduler.StepLR: bad argument #1 (optimizer expected, got table)")
      assert.has_error(function() optim.OneCycleLR(opt, 1.0) end,
        "lr_scheduler.OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)")
    end)
  end)
end)
