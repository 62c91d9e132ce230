-- Convolution (core/op_conv.c), pad (op_pad.c) and unfold (op_unfold.c)
-- through nn.functional and the nn modules: every PyTorch reference case
-- of spec/reference/conv.lua, finite-difference gradients, hand-computed
-- values, OpenCL against the CPU, the error messages, and the modules.
local luann = require "luann"
local cmp = require "opencl_compare"
local nn = require "luann.nn"
local F = nn.functional
local ref = require "reference.load"
local helpers = require "helpers"

local gradcheck = luann.autograd.gradcheck

-- The functional each reference op names.
local FN = { conv2d = F.conv2d, conv1d = F.conv1d, conv_transpose2d = F.conv_transpose2d,
  unfold = F.unfold, fold = F.fold }

local sorted_keys = helpers.sorted_keys

-- Runs a reference case in dtype: the output and every stored gradient
-- within rtol/atol of PyTorch's.
local function check_case(c, dtype, rtol, atol)
  local x = ref.tensor(c.inputs.input, dtype):requires_grad_()
  local w = c.inputs.weight and ref.tensor(c.inputs.weight, dtype):requires_grad_()
  local b = c.inputs.bias and ref.tensor(c.inputs.bias, dtype):requires_grad_()
  local y
  if w then y = FN[c.op](x, w, b, c.options) else y = FN[c.op](x, c.options) end
  assert.same(c.output.shape, y.shape)
  helpers.assert_close(y, c.output.data, rtol, atol)
  y:backward(ref.tensor(c.grad_output, dtype))
  local got = { input = x, weight = w, bias = b }
  for _, name in ipairs(sorted_keys(c.grads)) do
    local g = got[name].grad
    assert.is_not_nil(g, "no gradient for " .. name)
    assert.same(c.grads[name].shape, g.shape, name .. " gradient shape")
    helpers.assert_close(g, c.grads[name].data, rtol, atol)
  end
end

local function f64(data, shape)
  local t = luann.tensor(data, { dtype = "float64" })
  return shape and t:view(table.unpack(shape)) or t
end

local function rand64(...)
  return luann.randn({ ... }, { dtype = "float64" }):requires_grad_()
end

describe("conv", function()
  setup(function() luann.manual_seed(11) end)

  describe("PyTorch reference values", function()
    local cases = ref.family("conv")
    for _, name in ipairs(sorted_keys(cases)) do
      it(name .. " (float64)", function()
        check_case(cases[name], "float64", 1e-10, 1e-10)
      end)
    end
    for _, name in ipairs({ "conv2d_plain", "conv2d_groups2", "conv1d_dilation_groups",
      "conv_transpose2d_stride2_outpad", "fold_stride_padding", "unfold_all_options" }) do
      it(name .. " (float32)", function()
        check_case(cases[name], "float32", 1e-4, 1e-4)
      end)
    end
  end)

  describe("gradcheck", function()
    it("conv1d: stride, padding, dilation, groups, same", function()
      local x, w, b = rand64(2, 4, 7), rand64(2, 2, 3), rand64(2)
      assert.is_true(gradcheck(function(a, k, c)
        return F.conv1d(a, k, c, { stride = 2, padding = 1, dilation = 2, groups = 2 })
      end, { x, w, b }))
      assert.is_true(gradcheck(function(a, k)
        return F.conv1d(a, k, nil, { padding = "same", groups = 2 })
      end, { x, w }))
    end)

    it("conv2d: stride, padding, dilation, groups", function()
      local x, w, b = rand64(1, 4, 5, 6), rand64(4, 2, 2, 3), rand64(4)
      assert.is_true(gradcheck(function(a, k, c)
        return F.conv2d(a, k, c, { stride = { 2, 1 }, padding = { 1, 2 }, dilation = { 1, 2 },
          groups = 2 })
      end, { x, w, b }))
    end)

    it("conv2d: padding 'same' with an even kernel, unbatched", function()
      local x, w, b = rand64(2, 4, 5), rand64(3, 2, 2, 4), rand64(3)
      assert.is_true(gradcheck(function(a, k, c)
        return F.conv2d(a, k, c, { padding = "same", dilation = { 2, 1 } })
      end, { x, w, b }))
    end)

    it("conv_transpose2d: stride, output_padding, groups, dilation", function()
      local x, w, b = rand64(1, 4, 3, 2), rand64(4, 1, 2, 3), rand64(2)
      assert.is_true(gradcheck(function(a, k, c)
        return F.conv_transpose2d(a, k, c, { stride = { 2, 3 }, padding = { 1, 0 },
          output_padding = { 1, 2 }, groups = 2, dilation = { 2, 1 } })
      end, { x, w, b }))
    end)

    it("F.unfold and F.fold", function()
      assert.is_true(gradcheck(function(a)
        return F.unfold(a, { kernel_size = { 2, 3 }, dilation = { 2, 1 }, padding = 1, stride = { 1, 2 } })
      end, { rand64(1, 2, 4, 5) }))
      assert.is_true(gradcheck(function(a)
        return F.fold(a, { output_size = { 4, 5 }, kernel_size = 2, dilation = { 1, 2 }, padding = 1,
          stride = 2 })
      end, { rand64(2, 8, 9) }))
    end)

    for _, mode in ipairs({ "constant", "reflect", "replicate", "circular" }) do
      it("pad " .. mode .. ", with negative amounts", function()
        local x = rand64(2, 3, 4)
        assert.is_true(gradcheck(function(a) return F.pad(a, { 2, 1, 1, 2 }, mode, 0.5) end, { x }))
        assert.is_true(gradcheck(function(a) return F.pad(a, { -1, 2, 1, -1 }, mode) end, { x }))
      end)
    end

    it("t:unfold, with a step and a dilation, on a strided view", function()
      local x = rand64(4, 7)
      assert.is_true(gradcheck(function(a) return a:unfold(2, 3, 2) end, { x }))
      assert.is_true(gradcheck(function(a) return a:t():unfold(1, 2, 3, 2):unfold(2, 2) end, { x }))
    end)
  end)

  describe("hand-computed values", function()
    it("t:unfold takes windows as a view: shape, strides, values", function()
      local x = luann.arange(1, 8, { dtype = "float64" })
      local u = x:unfold(1, 3, 2)
      assert.same({ 3, 3 }, u.shape)
      assert.same({ 2, 1 }, u:stride())
      assert.same({ { 1, 2, 3 }, { 3, 4, 5 }, { 5, 6, 7 } }, u:tolist())
      local d = x:unfold(1, 2, 3, 2) -- starts 1, 4; elements 2 apart
      assert.same({ 3, 2 }, d:stride())
      assert.same({ { 1, 3 }, { 4, 6 } }, d:tolist())
      local m = luann.arange(12, { dtype = "float64" }):view(3, 4)
      local r = m:unfold(1, 2, 1)
      assert.same({ 2, 4, 2 }, r.shape)
      assert.same({ 4, 1, 4 }, r:stride())
      assert.same({ { 0, 4 }, { 1, 5 }, { 2, 6 }, { 3, 7 } }, r:tolist()[1])
      local c = m:unfold(-1, 2, 2)
      assert.same({ 3, 2, 2 }, c.shape)
      assert.same({ 4, 2, 1 }, c:stride())
      assert.same({ { 8, 9 }, { 10, 11 } }, c:tolist()[3])
      m[1][1] = 100 -- a view: it sees writes to m
      assert.equal(100, r:tolist()[1][1][1])
    end)

    it("t:unfold's window may fill the dim but not overflow it", function()
      local x = luann.arange(5, { dtype = "float64" })
      assert.same({ 1, 5 }, x:unfold(1, 5).shape)
      assert.same({ 1, 3 }, x:unfold(1, 3, 1, 2).shape)
      -- regression: a window one longer than the dim gave 0 windows
      assert.has.error(function() x:unfold(1, 6) end,
        "unfold: a window of size 6 (dilation 1) does not fit in dim 1 of size 5")
      assert.has.error(function() x:unfold(1, 4, 1, 2) end,
        "unfold: a window of size 4 (dilation 2) does not fit in dim 1 of size 5")
    end)

    it("pad modes on [1, 2, 3]", function()
      local x = f64({ 1, 2, 3 }, { 1, 3 })
      assert.same({ { 3, 2, 1, 2, 3, 2 } }, F.pad(x, { 2, 1 }, "reflect"):tolist())
      assert.same({ { 1, 1, 1, 2, 3, 3 } }, F.pad(x, { 2, 1 }, "replicate"):tolist())
      assert.same({ { 2, 3, 1, 2, 3, 1 } }, F.pad(x, { 2, 1 }, "circular"):tolist())
      assert.same({ { 9, 1, 2, 3, 9, 9 } }, F.pad(x, { 1, 2 }, "constant", 9):tolist())
      assert.same({ { 0, 1, 2, 3, 0 } }, F.pad(x, { 1, 1 }):tolist())
      assert.same({ { 2, 3, 0 } }, F.pad(x, { -1, 1 }):tolist())
      -- PyTorch crops first, then wraps around what is left
      assert.same({ { 3, 3 } }, F.pad(x, { -2, 1 }, "circular"):tolist())
      assert.same({ { 2, 1, 2 } }, F.pad(x, { 1, -1 }, "reflect"):tolist())
    end)

    it("pads two dims, the last one first", function()
      local x = f64({ 1, 2, 3, 4 }, { 1, 2, 2 })
      assert.same({ { { 0, 0, 0, 0 }, { 0, 1, 2, 0 }, { 0, 3, 4, 0 } } },
        F.pad(x, { 1, 1, 1, 0 }):tolist())
      assert.same({ { { 4, 3, 4, 3 }, { 2, 1, 2, 1 }, { 4, 3, 4, 3 } } },
        F.pad(x, { 1, 1, 1, 0 }, "reflect"):tolist())
    end)
  end)

  describe("OpenCL against the CPU #opencl", function()
    if not cmp.HAVE then
      it("needs an OpenCL device", function() pending("no OpenCL device") end)
      return
    end

    -- f on CPU copies and OpenCL copies of the inputs: the outputs and the
    -- gradients of a random weighting of the output agree.
    local function both(f, inputs, tol)
      tol = tol or 1e-12
      cmp.both(f, inputs, { grad = true, tol = { rtol = tol, atol = tol } })
    end

    it("conv2d with groups, dilation, stride and padding", function()
      both(function(x, w, b)
        return F.conv2d(x, w, b, { stride = { 1, 2 }, padding = 1, dilation = { 2, 1 }, groups = 2 })
      end, { rand64(2, 4, 5, 6), rand64(4, 2, 2, 3), rand64(4) })
    end)

    it("conv2d in float32", function()
      local r = function(...) return luann.randn({ ... }) end
      both(function(x, w, b) return F.conv2d(x, w, b, { padding = "same" }) end,
        { r(1, 2, 4, 5), r(3, 2, 3, 3), r(3) }, 1e-5)
    end)

    it("conv1d", function()
      both(function(x, w, b) return F.conv1d(x, w, b, { stride = 2, padding = 2, dilation = 2 }) end,
        { rand64(2, 3, 9), rand64(2, 3, 3), rand64(2) })
    end)

    it("conv_transpose2d", function()
      both(function(x, w, b)
        return F.conv_transpose2d(x, w, b, { stride = 2, padding = 1, output_padding = 1, groups = 2 })
      end, { rand64(1, 4, 3, 3), rand64(4, 1, 3, 3), rand64(2) })
    end)

    it("F.fold and F.unfold", function()
      both(function(x) return F.fold(x, { output_size = 5, kernel_size = 3, padding = 1, stride = 2 }) end,
        { rand64(2, 9, 9) })
      both(function(x) return F.unfold(x, { kernel_size = 2, dilation = { 1, 2 }, padding = 1 }) end,
        { rand64(1, 2, 4, 4) })
    end)

    it("pad in every mode", function()
      for _, mode in ipairs({ "constant", "reflect", "replicate", "circular" }) do
        both(function(x) return F.pad(x, { 2, -1, 1, 1 }, mode, 0.5) end, { rand64(2, 3, 4) })
      end
    end)

    it("t:unfold", function()
      both(function(x) return x:unfold(2, 3, 2, 2) * 1 end, { rand64(3, 9) })
      both(function(x) return x:t():unfold(2, 2, 1) * 1 end, { rand64(5, 3) })
    end)
  end)

  describe("errors", function()
    local x1 = luann.randn(1, 1, 8, 8)
    local w = luann.randn(6, 1, 5, 5)

    it("name the channel counts and the weight's shape", function()
      assert.has.error(function() F.conv2d(luann.randn(1, 3, 8, 8), w) end,
        "conv2d: input has 3 channels, weight expects 1 (weight shape (6,1,5,5))")
      assert.has.error(function() F.conv2d(luann.randn(1, 3, 8, 8), luann.randn(4, 2, 3, 3), nil, { groups = 2 }) end,
        "conv2d: input has 3 channels, weight expects 4 (weight shape (4,2,3,3), groups multiply its channels)")
      assert.has.error(function() F.conv_transpose2d(luann.randn(1, 3, 8, 8), w) end,
        "conv_transpose2d: input has 3 channels, weight expects 6 (weight shape (6,1,5,5))")
    end)

    it("a bias of the wrong shape", function()
      assert.has.error(function() F.conv2d(x1, w, luann.randn(5)) end,
        "conv2d: expected a bias of shape (6,), got (5,)")
      assert.has.error(function() F.conv1d(luann.randn(1, 2, 5), luann.randn(3, 2, 2), luann.randn(3, 1)) end,
        "conv1d: expected a bias of shape (3,), got (3,1)")
    end)

    it("non-float or mixed dtypes", function()
      assert.has.error(function() F.conv2d(luann.ones(1, 1, 8, 8, { dtype = "int64" }), w) end,
        "conv2d: input must be float32 or float64, got int64")
      assert.has.error(function() F.conv2d(x1, w:double()) end,
        "conv2d: weight is float64 but the input is float32")
    end)

    it("unknown options", function()
      assert.has.error(function() F.conv2d(x1, w, nil, { strid = 2 }) end,
        "conv2d: unknown option 'strid' (it takes input, weight, bias, stride, padding, dilation, groups)")
      assert.has.error(function() F.unfold(x1, { kernel = 2 }) end,
        "im2col: unknown option 'kernel' (it takes input, kernel_size, dilation, padding, stride)")
    end)

    it("a kernel bigger than the padded input", function()
      assert.has.error(function() F.conv2d(luann.randn(1, 1, 4, 4), w) end,
        "conv2d: the padded input (1,1,4,4) is smaller than the kernel (5,5) with dilation (1,1)")
      -- conv1d runs as conv2d over (N, C, 1, L): the padded input is shown so
      assert.has.error(function() F.conv1d(luann.randn(1, 1, 4), luann.randn(1, 1, 3), nil, { dilation = 2 }) end,
        "conv1d: the padded input (1,1,1,4) is smaller than the kernel (1,3) with dilation (1,2)")
    end)

    it("'same' with stride 2", function()
      assert.has.error(function() F.conv2d(x1, w, nil, { stride = 2, padding = "same" }) end,
        "conv2d: padding='same' needs stride 1, got (2,2)")
    end)

    it("output_padding too big", function()
      assert.has.error(function()
        F.conv_transpose2d(luann.randn(1, 6, 4, 4), w, nil, { stride = 2, output_padding = 2 })
      end, "conv_transpose2d: output_padding (2) must be smaller than either stride (2) or dilation (1)")
    end)

    it("wrong types at positions", function()
      assert.error_matches(function() F.conv2d(x1, "w") end,
        "bad argument #2 to '[%w.]*conv2d' %(weight must be a tensor, got string%)")
      assert.error_matches(function() F.conv2d(x1, w, 3) end,
        "bad argument #3 to '[%w.]*conv2d' %(bias must be a tensor or nil, got number%)")
      assert.has.error(function() F.conv2d(x1, w, nil, "a") end,
        "conv2d: stride must be an integer or a list, got string")
      assert.has.error(function() F.conv2d(x1, w, nil, 1, true) end,
        "conv2d: padding must be an integer, a list or a word, got boolean")
      assert.has.error(function() F.conv2d(x1, w, nil, { padding = "full" }) end,
        "conv2d: padding must be one of 'valid', 'same', got 'full'")
      assert.has.error(function() F.conv2d(x1, w, nil, { stride = { 1, 2, 3 } }) end,
        "conv2d: stride must have 2 numbers, got 3")
      assert.has.error(function() F.conv2d(luann.randn(8, 8), w) end,
        "conv2d: expected a 4-dim (batched) or 3-dim input, got shape (8,8)")
    end)

    it("pad and fold", function()
      assert.has.error(function() F.pad(luann.randn(1, 3), { 3, 0 }, "reflect") end,
        "pad: reflect padding of (3, 0) needs dim 2 larger (its size is 3)")
      assert.has.error(function() F.pad(luann.randn(1, 3), { 1 }) end,
        "pad: expected an even number of amounts, at most 2 per dim (2 dims), got 1")
      assert.has.error(function() F.pad(luann.randn(1, 3), { 1, 1 }, "wrap") end,
        "pad: mode must be one of 'constant', 'reflect', 'replicate', 'circular', got 'wrap'")
      assert.has.error(function() F.fold(luann.randn(1, 8, 11), { output_size = { 4, 5 }, kernel_size = 2 }) end,
        "fold: expected an input (N, C*4, 12) for kernel (2,2) and 3x4 blocks, got (1,8,11)")
    end)
  end)

  it("returns contiguous results, with or without bias, as PyTorch", function()
    local x, w = luann.rand(2, 1, 5, 5), luann.rand(3, 1, 3, 3)
    assert.is_true(F.conv2d(x, w):is_contiguous())
    assert.is_true(F.conv2d(x, w, luann.rand(3)):is_contiguous())
    assert.same({ 2, 27 }, F.conv2d(x, w):view(2, -1).shape)
  end)

  describe("modules", function()
    it("Conv2d: PyTorch's parameter names, layouts and repr", function()
      local c = nn.Conv2d(4, 6, { 3, 5 }, { groups = 2 })
      local sd = c:state_dict()
      assert.same({ 6, 2, 3, 5 }, sd.weight.shape)
      assert.same({ 6 }, sd.bias.shape)
      assert.equal("Conv2d(4, 6, kernel_size=(3, 5), stride=(1, 1), groups=2)", tostring(c))
      assert.equal("Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))", tostring(nn.Conv2d(1, 6, 5)))
      assert.equal("Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 1), padding=(1, 1), bias=False)",
        tostring(nn.Conv2d(3, 8, 3, { 2, 1 }, 1, 1, 1, false)))
      assert.equal("Conv2d(2, 2, kernel_size=(3, 3), stride=(1, 1), padding=same, dilation=(2, 2), "
        .. "padding_mode=reflect)", tostring(nn.Conv2d(2, 2, 3, { padding = "same", dilation = 2,
          padding_mode = "reflect" })))
      assert.is_nil(nn.Conv2d(1, 1, 1, { bias = false }).bias)
    end)

    it("Conv1d and ConvTranspose2d layouts", function()
      local c = nn.Conv1d(4, 6, 3, { groups = 2 })
      assert.same({ 6, 2, 3 }, c.weight.shape)
      assert.equal("Conv1d(4, 6, kernel_size=(3,), stride=(1,), groups=2)", tostring(c))
      local t = nn.ConvTranspose2d(4, 6, 3, { stride = 2, output_padding = 1, groups = 2 })
      assert.same({ 4, 3, 3, 3 }, t.weight.shape)
      assert.same({ 6 }, t.bias.shape)
      assert.equal("ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1), "
        .. "groups=2)", tostring(t))
    end)

    it("initialises within PyTorch's bounds 1/sqrt(fan_in)", function()
      local c = nn.Conv2d(3, 16, 3)
      local bound = 1 / math.sqrt(3 * 9)
      assert.is_true(c.weight:abs():max():item() <= bound)
      assert.is_true(c.bias:abs():max():item() <= bound)
      assert.is_true(c.weight:abs():max():item() > bound / 2)
      local t = nn.ConvTranspose2d(3, 8, 2) -- fan_in of (3, 8, 2, 2) is 8*4
      assert.is_true(t.bias:abs():max():item() <= 1 / math.sqrt(32))
    end)

    it("Conv2d on a batched and an unbatched input", function()
      local c = nn.Conv2d(2, 3, 3, { stride = 2, padding = 1 })
      local x = luann.randn(4, 2, 7, 6)
      local y = c(x)
      assert.same({ 4, 3, 4, 3 }, y.shape)
      local one = c(x[2])
      assert.same({ 3, 4, 3 }, one.shape)
      helpers.assert_close(one, helpers.values(y[2]), 1e-5, 1e-5)
      helpers.assert_close(y, helpers.values(F.conv2d(x, c.weight, c.bias, 2, 1)), 0, 0)
    end)

    it("padding='same' keeps H and W, in every padding_mode", function()
      local x = luann.randn(1, 2, 5, 6)
      for _, mode in ipairs({ "zeros", "reflect", "replicate", "circular" }) do
        local c = nn.Conv2d(2, 3, { 3, 4 }, { padding = "same", padding_mode = mode })
        assert.same({ 1, 3, 5, 6 }, c(x).shape, mode)
      end
      assert.same({ 2, 7 }, nn.Conv1d(2, 2, 4, { padding = "same" })(luann.randn(2, 7)).shape)
    end)

    it("padding_mode pads with F.pad, then convolves without padding", function()
      local x = luann.randn(1, 2, 5, 6, { dtype = "float64" })
      for _, mode in ipairs({ "reflect", "replicate", "circular" }) do
        local c = nn.Conv2d(2, 3, 3, { padding = { 1, 2 }, padding_mode = mode }):double()
        local want = F.conv2d(F.pad(x, { 2, 2, 1, 1 }, mode), c.weight, c.bias)
        helpers.assert_close(c(x), helpers.values(want), 0, 0)
      end
      local c1 = nn.Conv1d(2, 2, 3, 1, 1, 1, 1, true, "circular"):double()
      local x1 = luann.randn(1, 2, 6, { dtype = "float64" })
      helpers.assert_close(c1(x1), helpers.values(F.conv1d(F.pad(x1, { 1, 1 }, "circular"), c1.weight,
        c1.bias)), 0, 0)
    end)

    it("ConvTranspose2d inverts Conv2d's shape, or meets an output_size", function()
      local down = nn.Conv2d(2, 4, 3, { stride = 2, padding = 1 })
      local up = nn.ConvTranspose2d(4, 2, 3, { stride = 2, padding = 1, output_padding = 1 })
      local x = luann.randn(1, 2, 8, 8)
      assert.same({ 1, 2, 8, 8 }, up(down(x)).shape)
      local up0 = nn.ConvTranspose2d(4, 2, 3, { stride = 2, padding = 1 })
      assert.same({ 1, 2, 7, 8 }, up0(down(x), { 7, 8 }).shape)
      assert.has.error(function() up0(down(x), { 9, 8 }) end,
        "nn.ConvTranspose2d: requested an output size of 9, but valid sizes range from 7 to 8 "
        .. "(for an input of (1,4,4,4))")
    end)

    it("Unfold and Fold", function()
      local x = luann.randn(2, 3, 4, 5)
      local u = nn.Unfold({ 2, 3 }, { padding = 1 })
      assert.equal("Unfold(kernel_size=(2, 3), dilation=(1, 1), padding=(1, 1), stride=(1, 1))", tostring(u))
      local cols = u(x)
      assert.same({ 2, 18, 5 * 5 }, cols.shape)
      local f = nn.Fold({ 4, 5 }, { 2, 3 }, 1, 1)
      assert.equal("Fold(output_size=(4, 5), kernel_size=(2, 3), dilation=(1, 1), padding=(1, 1), "
        .. "stride=(1, 1))", tostring(f))
      -- fold(unfold(x)) counts each pixel once per block that holds it
      local counts = f(u(luann.ones(1, 1, 4, 5)))
      helpers.assert_close(f(cols), helpers.values(x * counts), 1e-5, 1e-5)
    end)

    it("checks its arguments at the caller's line", function()
      assert.has.error(function() nn.Conv2d(3, 4, 3, { groups = 2 }) end,
        "nn.Conv2d: groups (2) must divide in_channels (3) and out_channels (4)")
      assert.has.error(function() nn.Conv2d(3, 4, 3, { stride = 2, padding = "same" }) end,
        "nn.Conv2d: padding='same' is not supported for strided convolutions")
      assert.has.error(function() nn.Conv2d(3, 4, 3, { strde = 2 }) end,
        "nn.Conv2d: unknown option 'strde' (known: bias, device, dilation, dtype, groups, padding, "
        .. "padding_mode, stride)")
      assert.has.error(function() nn.Conv2d(3, 4, { 3 }) end,
        "nn.Conv2d: bad argument #3 'kernel_size' (expected 2 numbers, got 1)")
      assert.has.error(function() nn.Conv2d(3, 4, 0) end,
        "nn.Conv2d: bad argument #3 'kernel_size' (must be >= 1, got 0)")
      assert.has.error(function() nn.Conv1d(3, 4, 3, { padding_mode = "mirror" }) end,
        'nn.Conv1d: bad argument #4 \'padding_mode\' (expected one of "zeros", "reflect", '
        .. '"replicate", "circular", got "mirror")')
      assert.has.error(function() nn.ConvTranspose2d(3, 4, 3, { padding_mode = "reflect" }) end,
        "nn.ConvTranspose2d: only padding_mode 'zeros' is supported, got 'reflect'")
      local ok, err = pcall(function() local m = nn.Conv2d("3", 4, 3) return m end)
      assert.is_false(ok)
      assert.matches("^spec/conv_spec.lua:%d+: nn.Conv2d: bad argument #1 'in_channels'", err)
      ok, err = pcall(function() local m = nn.Conv2d(3, 4, { 3, 3 }, { padding = "same", stride = 2 }) return m end)
      assert.matches("^spec/conv_spec.lua:%d+: nn.Conv2d: padding='same'", err)
      ok, err = pcall(function() local m = nn.Conv2d(3, 4, { 3, 0 }) return m end)
      assert.matches("^spec/conv_spec.lua:%d+: nn.Conv2d: bad argument #3", err)
    end)

    it("a few training steps reduce a loss", function()
      luann.manual_seed(3)
      local model = nn.Sequential(nn.Conv2d(1, 4, 3, { padding = 1 }), nn.ReLU(),
        nn.Conv2d(4, 1, 3, { padding = "same" }))
      local x = luann.randn(2, 1, 6, 6)
      local target = x * 0.5
      local opt = luann.optim.SGD(model:parameters(), { lr = 0.05 })
      local first, last
      for step = 1, 20 do
        opt:zero_grad()
        local loss = F.mse_loss(model(x), target)
        loss:backward()
        opt:step()
        if step == 1 then first = loss:item() end
        last = loss:item()
      end
      assert.is_true(last < first * 0.8, ("loss %g -> %g"):format(first, last))
    end)
  end)
end)
