-- Normalisation (F.batch_norm, F.group_norm, nn.BatchNorm1d/2d, nn.GroupNorm):
-- the batch and group norm cases of spec/reference/norm.lua against PyTorch
-- in float64 (outputs, grads, running statistics after every step, eval
-- output), finite-difference gradients, OpenCL against the CPU, argument
-- errors, and the modules' state_dict.
local luann = require "luann"
local nn = require "luann.nn"
local F = nn.functional
local ref = require "reference.load"
local helpers = require "helpers"
local cmp = require "opencl_compare"

local TOL = 1e-12

local function seq(shape, c)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local v = {}
  for i = 1, n do v[i] = math.sin(0.7 * i + c) + 0.3 * math.cos(1.3 * i) end
  return luann.tensor(v, { dtype = "float64" }):view(table.unpack(shape))
end

local function sorted_cases(prefix)
  local names = {}
  for name in pairs(ref.family("norm")) do
    if name:sub(1, #prefix) == prefix then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- A module of the case's class and options, its parameters and buffers
-- loaded from the case, in float64.
local function module_for(c)
  local o = c.module_options
  local m = nn[c.module](o.num_features, { eps = o.eps, momentum = o.momentum,
    affine = o.affine, track_running_stats = o.track_running_stats, dtype = "float64" })
  local sd = {}
  for k, t in pairs(c.parameters) do sd[k] = ref.tensor(t) end
  for k, t in pairs(c.buffers) do sd[k] = ref.tensor(t) end
  m:load_state_dict(sd)
  return m
end

describe("luann.nn normalisation", function()
  describe("batch norm against PyTorch", function()
    for _, name in ipairs(sorted_cases("batch_norm")) do
      it(name, function()
        local c = ref.case("norm", name)
        local m = module_for(c)
        for k, step in ipairs(c.steps) do
          local what = "step " .. k .. " (" .. step.mode .. ") "
          m:train(step.mode == "train")
          m:zero_grad()
          local x = ref.tensor(step.inputs.input):requires_grad_()
          local y = m(x)
          assert.are.same(step.output.shape, y.shape, what .. "output shape")
          helpers.assert_close(y, step.output.data, TOL, TOL)
          y:backward(ref.tensor(step.grad_output))
          for gname, g in pairs(step.grads) do
            local t = gname == "input" and x or m[gname]
            assert.is_not_nil(t.grad, what .. "grad of " .. gname)
            helpers.assert_close(t.grad, g.data, TOL, TOL)
          end
          for bname, b in pairs(step.buffers) do
            assert.are.same(b.shape, m[bname].shape, what .. bname)
            assert.are.equal(b.dtype or "float64", m[bname].dtype, what .. bname)
            helpers.assert_close(m[bname], b.data, TOL, TOL)
          end
        end
      end)
    end
  end)

  describe("group norm against PyTorch", function()
    for _, name in ipairs(sorted_cases("group_norm")) do
      it(name, function()
        local c = ref.case("norm", name)
        local x = ref.tensor(c.inputs.input):requires_grad_()
        local w = c.inputs.weight and ref.tensor(c.inputs.weight):requires_grad_()
        local b = c.inputs.bias and ref.tensor(c.inputs.bias):requires_grad_()
        local y = F.group_norm(x, c.options.num_groups, w, b, c.options.eps)
        helpers.assert_close(y, c.output.data, TOL, TOL)
        y:backward(ref.tensor(c.grad_output))
        local inputs = { input = x, weight = w, bias = b }
        for gname, g in pairs(c.grads) do helpers.assert_close(inputs[gname].grad, g.data, TOL, TOL) end
        -- the module with the same parameters gives the same output
        local m = nn.GroupNorm(c.options.num_groups, x:size(2),
          { eps = c.options.eps, affine = w ~= nil, dtype = "float64" })
        if w then m:load_state_dict { weight = w:detach(), bias = b:detach() } end
        helpers.assert_close(m(x), c.output.data, TOL, TOL)
      end)
    end
  end)

  describe("gradcheck", function()
    local gradcheck = luann.autograd.gradcheck
    for _, shape in ipairs { { 4, 3 }, { 3, 2, 4 }, { 2, 3, 2, 3 } } do
      local s = "(" .. table.concat(shape, ",") .. ")"
      it("batch_norm training " .. s, function()
        local x = seq(shape, 0.1):requires_grad_()
        local w = seq({ shape[2] }, 1):requires_grad_()
        local b = seq({ shape[2] }, 2):requires_grad_()
        assert.is_true(gradcheck(function(a, ww, bb)
          return F.batch_norm(a, nil, nil, ww, bb, true, 0.1, 1e-5)
        end, { x, w, b }))
      end)
      it("batch_norm eval " .. s, function()
        local x = seq(shape, 0.1):requires_grad_()
        local w = seq({ shape[2] }, 1):requires_grad_()
        local rm, rv = seq({ shape[2] }, 3), seq({ shape[2] }, 4):abs() + 0.5
        assert.is_true(gradcheck(function(a, ww)
          return F.batch_norm(a, rm, rv, ww, nil, false)
        end, { x, w }))
      end)
    end
    it("group_norm, affine and not", function()
      local x = seq({ 2, 4, 3 }, 0.2):requires_grad_()
      local w, b = seq({ 4 }, 1):requires_grad_(), seq({ 4 }, 2):requires_grad_()
      assert.is_true(gradcheck(function(a, ww, bb) return F.group_norm(a, 2, ww, bb) end, { x, w, b }))
      assert.is_true(gradcheck(function(a) return F.group_norm(a, 4) end, { seq({ 2, 4, 2, 2 }, 0.7):requires_grad_() }))
    end)
  end)

  describe("F.batch_norm", function()
    it("updates the running statistics in place without recording", function()
      local x = seq({ 5, 2 }, 0.3):requires_grad_()
      local rm, rv = luann.zeros(2, { dtype = "float64" }), luann.ones(2, { dtype = "float64" })
      local mean, var = x:detach():mean(1), x:detach():var(1)
      F.batch_norm(x, rm, rv, nil, nil, true, 0.25)
      assert.is_false(rm.requires_grad)
      helpers.assert_close(rm, helpers.values(mean * 0.25), TOL, TOL)
      helpers.assert_close(rv, helpers.values(var * 0.25 + 0.75), TOL, TOL)
      -- by name, and eval reads them without changing them
      local y = F.batch_norm(x, { running_mean = rm, running_var = rv, eps = 0 })
      helpers.assert_close(y, helpers.values((x:detach() - rm) / rv:sqrt()), TOL, TOL)
      helpers.assert_close(rm, helpers.values(mean * 0.25), TOL, TOL)
    end)
    it("names the op and the shapes in its errors", function()
      local x = seq({ 4, 3, 2 }, 0)
      local c3, c4 = luann.zeros(3, { dtype = "float64" }), luann.ones(4, { dtype = "float64" })
      assert.has.error(function() F.batch_norm(x, c3, c3, c4) end,
        "batch_norm: weight has shape (4), expected (3) for the channels of input (4,3,2)")
      assert.has.error(function() F.batch_norm(x, c4, c3) end,
        "batch_norm: running_mean has shape (4), expected (3) for the channels of input (4,3,2)")
      assert.has.error(function() F.batch_norm(x, c3, c3:view(3, 1)) end,
        "batch_norm: running_var has shape (3,1), expected (3) for the channels of input (4,3,2)")
      assert.has.error(function() F.batch_norm(x, nil, nil, c3, c4, true) end,
        "batch_norm: bias has shape (4), expected (3) for the channels of input (4,3,2)")
      assert.has.error(function() F.batch_norm(x, nil, nil) end,
        "batch_norm: running_mean and running_var are required when not training")
      assert.has.error(function() F.batch_norm(seq({ 1, 3 }, 0), nil, nil, nil, nil, true) end,
        "batch_norm: expected more than 1 value per channel when training, got input (1,3)")
      assert.has.error(function() F.batch_norm(seq({ 3 }, 0), c3, c3) end,
        "batch_norm: expected a 2-d, 3-d or 4-d input (N, C, ...), got (3)")
    end)
  end)

  describe("F.group_norm", function()
    it("names the op and the shapes in its errors", function()
      local x = seq({ 2, 6, 2 }, 0)
      assert.has.error(function() F.group_norm(x, 4) end,
        "group_norm: num_groups 4 does not divide the 6 channels of input (2,6,2)")
      assert.has.error(function() F.group_norm(x, 3, luann.ones(3, { dtype = "float64" })) end,
        "group_norm: weight has shape (3), expected (6) for the channels of input (2,6,2)")
      assert.has.error(function() nn.GroupNorm(4, 6) end,
        "nn.GroupNorm: num_groups 4 does not divide num_channels 6")
    end)
  end)

  describe("modules", function()
    it("register weight, bias and the running statistics in state_dict", function()
      local bn = nn.BatchNorm2d(3)
      local keys = {}
      for k in pairs(bn:state_dict()) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.are.same({ "bias", "num_batches_tracked", "running_mean", "running_var", "weight" }, keys)
      assert.are.same({}, bn.num_batches_tracked.shape)
      assert.are.equal("int64", bn.num_batches_tracked.dtype)
      assert.are.equal(2, #bn:parameters())
      local plain = nn.BatchNorm1d(3, { affine = false, track_running_stats = false })
      assert.is_nil(next(plain:state_dict()))
      local seq_keys = {}
      local model = nn.Sequential(nn.BatchNorm1d(2), nn.GroupNorm(1, 2))
      for k in pairs(model:state_dict()) do seq_keys[#seq_keys + 1] = k end
      table.sort(seq_keys)
      assert.are.same({ "1.bias", "1.num_batches_tracked", "1.running_mean", "1.running_var",
        "1.weight", "2.bias", "2.weight" }, seq_keys)
    end)
    it("average all batches when momentum is false (PyTorch's None)", function()
      local bn = nn.BatchNorm1d(2, { momentum = false, dtype = "float64" })
      assert.is_nil(bn.momentum)
      local a, b = seq({ 4, 2 }, 0), seq({ 4, 2 }, 1)
      bn(a); bn(b)
      assert.are.equal(2, bn.num_batches_tracked:item())
      local expected = (a:mean(1) + b:mean(1)) / 2
      helpers.assert_close(bn.running_mean, helpers.values(expected), TOL, TOL)
      helpers.assert_close(bn.running_var, helpers.values((a:var(1) + b:var(1)) / 2), TOL, TOL)
      assert.are.equal(0.1, nn.BatchNorm1d(2).momentum)
      assert.are.equal(0.1, nn.BatchNorm1d(2, { affine = false }).momentum)
    end)
    it("use batch statistics in eval without running statistics", function()
      local bn = nn.BatchNorm2d(2, { track_running_stats = false, dtype = "float64" })
      bn:eval()
      local x = seq({ 2, 2, 3, 3 }, 0.4)
      helpers.assert_close(bn(x), helpers.values(F.batch_norm(x, nil, nil, bn.weight, bn.bias, true)),
        TOL, TOL)
    end)
    it("check the input's rank and print their settings", function()
      assert.has.error(function() nn.BatchNorm2d(2)(luann.zeros(2, 2)) end,
        "nn.BatchNorm2d: expected a 4-d input, got (2,2)")
      assert.has.error(function() nn.BatchNorm1d(2)(luann.zeros(2, 2, 2, 2)) end,
        "nn.BatchNorm1d: expected a 2-d or 3-d input, got (2,2,2,2)")
      assert.are.equal("BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)",
        tostring(nn.BatchNorm2d(4)))
      assert.are.equal("GroupNorm(2, 4, eps=1e-05, affine=true)", tostring(nn.GroupNorm(2, 4)))
    end)
  end)
end)

describe("luann.nn normalisation on OpenCL #opencl", function()
  -- f on the CPU and on OpenCL: the outputs and every input's grad agree.
  local function both(f, inputs) cmp.both(f, inputs, { grad = true }) end

  it("agrees with the CPU, forward and backward", function()
    if not cmp.HAVE then return pending("no OpenCL device") end
    local w, b = seq({ 3 }, 1), seq({ 3 }, 2)
    for _, shape in ipairs { { 4, 3 }, { 2, 3, 5 }, { 2, 3, 2, 3 } } do
      both(function(x, ww, bb) return F.batch_norm(x, nil, nil, ww, bb, true) end, { seq(shape, 0.5), w, b })
    end
    both(function(x, ww) return F.group_norm(x, 3, ww) end, { seq({ 2, 3, 4 }, 0.5), w })
    -- the running statistics, updated in place on the device
    cmp.both(function(x)
      local opts = { dtype = "float64", device = x.device }
      local rm, rv = luann.zeros(3, opts), luann.ones(3, opts)
      return F.batch_norm(x, rm, rv, nil, nil, true), rm, rv
    end, { seq({ 4, 3, 2 }, 0.1) })
    local bn = nn.BatchNorm2d(3, { dtype = "float64" })
    bn:to("opencl")
    local y = bn(seq({ 2, 3, 2, 2 }, 0.2):to("opencl"))
    assert.are.equal("opencl:0", y.device)
    assert.are.equal(1, bn.num_batches_tracked:item())
  end)
end)
