-- Stride-1 convolution without columns (core/op_conv_direct.c, with its
-- float32 kernels in core/conv_simd.c): conv2d with stride 1 and one group
-- runs there, every other conv2d through im2col and a GEMM. Checked against
-- F.unfold + matmul in float64 (the column path) on shapes that exercise
-- the kernels' edges: tile overhangs in channels and in output vectors,
-- rows of one vector and of several, dilation, paddings wider than the
-- kernel, even 'same' kernels, strided operands and several threads; then
-- finite differences of the first and second derivatives, and OpenCL.
local luann = require "luann"
local cmp = require "opencl_compare"
local helpers = require "helpers"
local F = luann.nn.functional
local autograd = luann.autograd

-- y = w (*) x + b through F.pad, F.unfold and matmul, in float64.
-- pad = {top, bottom, left, right}.
local function columns(x, w, b, pad, dilation)
  local n, o = x:size(1), w:size(1)
  local kh, kw = w:size(3), w:size(4)
  local xp = F.pad(x, { pad[3], pad[4], pad[1], pad[2] })
  local oh = xp:size(3) - dilation[1] * (kh - 1)
  local ow = xp:size(4) - dilation[2] * (kw - 1)
  local cols = F.unfold(xp, { kernel_size = { kh, kw }, dilation = dilation })
  local y = w:reshape(o, -1):matmul(cols):view(n, o, oh, ow)
  if b then y = y + b:view(1, o, 1, 1) end
  return y
end

-- The padding conv2d's options give, as {top, bottom, left, right}.
local function padding_of(opts, w)
  local p, d = opts.padding or 0, opts.dilation or { 1, 1 }
  if type(d) == "number" then d = { d, d } end
  if p == "same" then
    local th, tw = d[1] * (w:size(3) - 1), d[2] * (w:size(4) - 1)
    return { th // 2, th - th // 2, tw // 2, tw - tw // 2 }, d
  end
  if type(p) == "number" then p = { p, p } end
  return { p[1], p[1], p[2], p[2] }, d
end

-- conv2d in dtype against the columns in float64: the output and the
-- gradients of x, w and b for one random output gradient.
local function check(x, w, b, opts, dtype, tol)
  local pad, d = padding_of(opts, w)
  local function leaf(t) return t and t:to(dtype):detach():requires_grad_() end
  local function leaf64(t) return t and t:double():detach():requires_grad_() end
  local xs, ws, bs = leaf(x), leaf(w), leaf(b)
  local y = F.conv2d(xs, ws, bs, opts)
  local x64, w64, b64 = leaf64(x), leaf64(w), leaf64(b)
  local ref = columns(x64, w64, b64, pad, d)
  assert.same(ref.shape, y.shape)
  helpers.assert_close(y, helpers.values(ref), tol, tol)
  local g = luann.randn(ref.shape, { dtype = "float64" })
  y:backward(g:to(dtype))
  ref:backward(g)
  helpers.assert_close(xs.grad, helpers.values(x64.grad), tol, tol)
  helpers.assert_close(ws.grad, helpers.values(w64.grad), tol, tol)
  if b then helpers.assert_close(bs.grad, helpers.values(b64.grad), tol, tol) end
end

local function randn(...) return luann.randn({ ... }, { dtype = "float64" }) end

-- {name, x, w, b, options}
local CASES = {
  { "LeNet's first layer", { 3, 1, 12, 12 }, { 6, 1, 5, 5 }, true, { padding = 2 } },
  { "LeNet's second layer", { 2, 6, 14, 14 }, { 16, 6, 5, 5 }, true, {} },
  { "uneven kernel, dilation, padding on one side", { 2, 3, 7, 19 }, { 5, 3, 2, 3 }, true,
    { padding = { 1, 0 }, dilation = { 2, 1 } } },
  { "rows of several vectors and a tail", { 1, 2, 3, 37 }, { 7, 2, 3, 3 }, true, { padding = 1 } },
  { "padding wider than the kernel", { 1, 2, 4, 5 }, { 3, 2, 2, 2 }, true, { padding = 3 } },
  { "1x1 kernel, 17 channels", { 2, 4, 5, 6 }, { 17, 4, 1, 1 }, false, {} },
  { "'same' with even kernels and dilation", { 2, 3, 6, 9 }, { 4, 3, 2, 4 }, true,
    { padding = "same", dilation = { 2, 1 } } },
  { "one output channel, one pixel", { 2, 2, 1, 1 }, { 1, 2, 3, 3 }, true, { padding = 1 } },
  { "one input row", { 3, 2, 1, 20 }, { 5, 2, 1, 3 }, true, { dilation = 2 } },
}

describe("conv2d with stride 1 (direct)", function()
  setup(function() luann.manual_seed(11) end)

  describe("against the columns", function()
    for _, c in ipairs(CASES) do
      it(c[1] .. " (float64)", function()
        check(randn(table.unpack(c[2])), randn(table.unpack(c[3])), c[4] and randn(c[3][1]) or nil, c[5],
          "float64", 1e-10)
      end)
      it(c[1] .. " (float32)", function()
        check(randn(table.unpack(c[2])), randn(table.unpack(c[3])), c[4] and randn(c[3][1]) or nil, c[5],
          "float32", 2e-4)
      end)
    end

    it("reads strided inputs and weights", function()
      for _, dtype in ipairs({ "float32", "float64" }) do
        local x = randn(2, 3, 9, 7):transpose(3, 4)           -- (2, 3, 7, 9)
        local w = randn(4, 3, 3, 3):transpose(3, 4)
        local b = randn(4, 2):select(2, 1) -- stride 2
        assert.is_false(x:is_contiguous())
        assert.is_false(w:is_contiguous())
        local y = F.conv2d(x:to(dtype), w:to(dtype), b:to(dtype), { padding = 1 })
        local ref = columns(x, w, b, { 1, 1, 1, 1 }, { 1, 1 })
        helpers.assert_close(y, helpers.values(ref), 2e-4, 2e-4)
      end
    end)

    it("conv1d runs there too", function()
      local x, w, b = randn(2, 3, 20), randn(4, 3, 3), randn(4)
      local y = F.conv1d(x:float(), w:float(), b:float(), { padding = "same", dilation = 2 })
      local ref = columns(x:unsqueeze(3), w:unsqueeze(3), b, { 0, 0, 2, 2 }, { 1, 2 }):squeeze(3)
      helpers.assert_close(y, helpers.values(ref), 2e-4, 2e-4)
    end)

    it("gives the same sums on several threads", function()
      local threads = luann.get_num_threads()
      luann.set_num_threads(2)
      local ok, err = pcall(check, randn(32, 6, 14, 14), randn(16, 6, 5, 5), randn(16), { padding = 1 },
        "float32", 2e-4)
      luann.set_num_threads(threads)
      assert(ok, err)
    end)

    it("propagates NaN only where the columns do", function()
      -- 9 outputs a row: the second vector of 8 has 7 lanes past the row,
      -- whose tap b = 1 would read the NaN in column 10
      local x = luann.zeros(1, 1, 3, 10)
      x[{ 1, 1, 2, 10 }] = 0 / 0
      local w = luann.ones(1, 1, 1, 2, { requires_grad = true })
      F.conv2d(x, w):sum():backward()
      local gw = helpers.values(w.grad)
      assert.equal(0, gw[1])
      assert.is_true(helpers.is_nan(gw[2]))
    end)
  end)

  it("conv_transpose2d with stride 1 is conv2d's adjoint", function()
    for _, o in ipairs({ { padding = 1, dilation = { 2, 1 } }, { padding = { 0, 2 } } }) do
      local y, w, b = randn(2, 4, 5, 6), randn(4, 3, 3, 2), randn(3)
      local xt = F.conv_transpose2d(y, w, nil, o)
      local x = randn(table.unpack(xt.shape))
      local pad, d = padding_of(o, w)
      local lhs = (xt * x):sum():item()
      local rhs = (columns(x, w, nil, pad, d) * y):sum():item()
      assert.is_true(math.abs(lhs - rhs) <= 1e-9 * (1 + math.abs(rhs)), lhs .. " vs " .. rhs)
      local with_bias = F.conv_transpose2d(y:float(), w:float(), b:float(), o)
      helpers.assert_close(with_bias, helpers.values(xt + b:view(1, 3, 1, 1)), 1e-4, 1e-4)
    end
    assert.is_true(autograd.gradcheck(function(y, w, b)
      return F.conv_transpose2d(y, w, b, { padding = 1, output_padding = 1, dilation = 2 })
    end, { randn(1, 2, 3, 4):requires_grad_(), randn(2, 3, 2, 2):requires_grad_(),
           randn(3):requires_grad_() }))
  end)

  it("runs for stride 1, one group and a weight of at most 2^20 elements", function()
    local function node(x, w, o)
      return tostring(F.conv2d(x:requires_grad_(), w, nil, o).grad_fn)
    end
    assert.are.equal("ConvolutionBackward", node(randn(1, 2, 5, 5), randn(3, 2, 3, 3), { padding = 1 }))
    assert.are_not.equal("ConvolutionBackward", node(randn(1, 2, 5, 5), randn(3, 2, 3, 3), { stride = 2 }))
    assert.are_not.equal("ConvolutionBackward", node(randn(1, 2, 5, 5), randn(2, 1, 3, 3), { groups = 2 }))
    assert.are.equal("ConvolutionBackward", node(randn(1, 1024, 2, 2), randn(1, 1024, 32, 32), { padding = 15 }))
    assert.are_not.equal("ConvolutionBackward", node(randn(1, 1025, 2, 2), randn(1, 1025, 32, 32), { padding = 15 }))
  end)

  describe("gradcheck", function()
    local function leaf(...) return randn(...):requires_grad_() end

    it("first derivatives: padding, dilation, bias", function()
      assert.is_true(autograd.gradcheck(function(x, w, b)
        return F.conv2d(x, w, b, { padding = { 2, 1 }, dilation = { 1, 2 } })
      end, { leaf(2, 2, 5, 6), leaf(3, 2, 3, 2), leaf(3) }))
    end)

    it("second derivatives through all three ops", function()
      assert.is_true(autograd.gradgradcheck(function(x, w, b)
        return F.conv2d(x, w, b, { padding = 1, dilation = { 2, 1 } }):pow(2)
      end, { leaf(1, 2, 4, 5), leaf(2, 2, 2, 3), leaf(2) }))
    end)
  end)

  describe("OpenCL against the CPU #opencl", function()
    if not cmp.HAVE then
      it("needs an OpenCL device", function() pending("no OpenCL device") end)
      return
    end

    it("forward and gradients, float64 and float32", function()
      cmp.both(function(x, w, b) return F.conv2d(x, w, b, { padding = { 1, 2 }, dilation = { 2, 1 } }) end,
        { randn(2, 3, 5, 11), randn(4, 3, 2, 3), randn(4) }, { grad = true })
      cmp.both(function(x, w) return F.conv2d(x, w, nil, { padding = "same" }) end,
        { luann.randn(2, 3, 6, 9), luann.randn(5, 3, 3, 4) }, { grad = true, tol = { rtol = 1e-4, atol = 1e-5 } })
    end)

    it("conv_transpose2d with stride 1", function()
      cmp.both(function(y, w, b) return F.conv_transpose2d(y, w, b, { padding = 1, dilation = { 1, 2 } }) end,
        { randn(2, 3, 4, 5), randn(3, 2, 3, 2), randn(2) }, { grad = true })
    end)

    it("second derivatives", function()
      cmp.both(function(x, w)
        local y = F.conv2d(x, w, nil, { padding = 1 }):pow(2):sum()
        local g = autograd.grad(y, { x, w }, { create_graph = true })
        return { g[1], g[2] }
      end, { randn(1, 2, 4, 4), randn(3, 2, 3, 3) }, { grad = true })
    end)
  end)
end)

describe("conv2d's float32 kernels on each instruction set", function()
  local exe = (os.getenv("LUANN_BUILD") or "build") .. "/luann"
  for _, isa in ipairs({ "generic", "avx2", "avx512" }) do
    it("agree with float64 under LUANN_CPU_ISA=" .. isa, function()
      local p = assert(io.popen("LUANN_CPU_ISA=" .. isa .. " " .. exe .. " spec/support/conv_simd_check.lua"))
      local out = p:read("a")
      local ok = p:close()
      assert.is_true(ok, "errors too large: " .. out)
    end)
  end
end)
