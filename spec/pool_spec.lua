-- Pooling (luann.nn.functional's max/avg/adaptive pools and their modules):
-- every case of spec/reference/pool.lua against PyTorch in float64 (outputs,
-- 1-based indices, input grads), finite-difference gradients, OpenCL
-- against the CPU, argument errors and the modules.
local luann = require "luann"
local nn = require "luann.nn"
local F = nn.functional
local ref = require "reference.load"
local helpers = require "helpers"
local cmp = require "opencl_compare"

local TOL = 1e-12

-- PyTorch's 0-based stored indices as luann's 1-based ones.
local function one_based(t)
  local v = {}
  for i, x in ipairs(t.data) do v[i] = x + 1 end
  return v
end

-- The pool functions a case runs, with its options table.
local function run(c, x)
  local opts = {}
  for k, v in pairs(c.options) do opts[k] = v end
  return F[c.op](x, opts)
end

local function seq(shape, c)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local v = {}
  for i = 1, n do v[i] = math.sin(0.7 * i + c) end
  return luann.tensor(v, { dtype = "float64" }):view(table.unpack(shape))
end

-- A permutation of distinct values, so a max has one winner and finite
-- differences of eps cannot change it.
local function distinct(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local v = {}
  for i = 1, n do v[i] = ((i * 7) % n) / n + 0.01 * i / n end
  return luann.tensor(v, { dtype = "float64" }):view(table.unpack(shape))
end

local names = {}
for name in pairs(ref.family("pool")) do names[#names + 1] = name end
table.sort(names)

describe("luann.nn.functional pooling", function()
  describe("against PyTorch", function()
    for _, name in ipairs(names) do
      it(name, function()
        local c = ref.case("pool", name)
        local x = ref.tensor(c.inputs.input):requires_grad_()
        local out, idx = run(c, x)
        local expected = c.outputs and c.outputs.output or c.output
        assert.are.same(expected.shape, out.shape)
        helpers.assert_close(out, expected.data, TOL, TOL)
        local gout = c.grad_outputs and c.grad_outputs.output or c.grad_output
        if c.outputs and c.outputs.indices then
          assert.are.equal("int64", idx.dtype)
          assert.are.same(c.outputs.indices.shape, idx.shape)
          assert.are.same(one_based(c.outputs.indices), helpers.values(idx))
        else
          assert.is_nil(idx)
        end
        out:backward(ref.tensor(gout))
        helpers.assert_close(x.grad, c.grads.input.data, TOL, TOL)
      end)
    end
  end)

  describe("gradcheck", function()
    local gradcheck = luann.autograd.gradcheck
    local cases = {
      { "max_pool1d", { 1, 2, 7 }, { kernel_size = 3, stride = 2, padding = 1 } },
      { "max_pool1d", { 2, 6 }, { kernel_size = 2, dilation = 2, ceil_mode = true } },
      { "max_pool2d", { 1, 2, 5, 5 }, { kernel_size = 2, ceil_mode = true } },
      { "max_pool2d", { 1, 1, 6, 5 }, { kernel_size = { 3, 2 }, stride = { 2, 1 }, padding = { 1, 0 } } },
      { "max_pool2d", { 1, 1, 5, 5 }, { kernel_size = 2, dilation = 2 } },
      { "avg_pool2d", { 1, 2, 4, 4 }, { kernel_size = 2 } },
      { "avg_pool2d", { 1, 1, 5, 5 }, { kernel_size = 3, stride = 2, padding = 1, ceil_mode = true } },
      { "avg_pool2d", { 1, 1, 5, 5 }, { kernel_size = 3, stride = 2, padding = 1, count_include_pad = false } },
      { "avg_pool2d", { 1, 1, 4, 4 }, { kernel_size = 2, padding = 1, divisor_override = 3 } },
      { "adaptive_avg_pool2d", { 1, 2, 5, 7 }, { output_size = { 3, 4 } } },
      { "adaptive_max_pool2d", { 1, 2, 5, 7 }, { output_size = { 3, 4 } } },
    }
    for _, case in ipairs(cases) do
      local op, shape, opts = case[1], case[2], case[3]
      local keys = {}
      for k, v in pairs(opts) do
        keys[#keys + 1] = k .. "=" .. (type(v) == "table" and "{" .. table.concat(v, ",") .. "}" or tostring(v))
      end
      table.sort(keys)
      it(op .. " " .. table.concat(keys, " "), function()
        local x = (op:find("max") and distinct(shape) or seq(shape, 0.3)):requires_grad_()
        assert.is_true(gradcheck(function(t) return (F[op](t, opts)) end, { x }))
      end)
    end
  end)

  describe("arguments", function()
    local x = seq({ 1, 2, 4, 4 }, 0)
    it("takes options by position or by name", function()
      local a = F.max_pool2d(x, 3, 1, 1, 1, false)
      local b = F.max_pool2d(x, { kernel_size = 3, stride = 1, padding = 1 })
      local c = F.max_pool2d(x, 3, { stride = 1, padding = 1 })
      assert.are.same(helpers.values(a), helpers.values(b))
      assert.are.same(helpers.values(a), helpers.values(c))
      assert.are.same(helpers.values(F.avg_pool2d(x, 2, 2, 0, false, true, 2)),
        helpers.values(F.avg_pool2d(x, 2, { divisor_override = 2 })))
    end)
    it("takes unbatched (C, H, W) and (C, L) inputs", function()
      local y = F.max_pool2d(x:squeeze(1), 2)
      assert.are.same({ 2, 2, 2 }, y.shape)
      assert.are.same(helpers.values(F.max_pool2d(x, 2)), helpers.values(y))
      local v, i = F.max_pool1d(seq({ 3, 6 }, 1), 3, { return_indices = true })
      assert.are.same({ 3, 2 }, v.shape)
      assert.are.same({ 3, 2 }, i.shape)
      assert.are.same({ 2, 2, 2 }, F.avg_pool2d(x:squeeze(1), 2).shape)
      assert.are.same({ 2, 3, 1 }, F.adaptive_avg_pool2d(x:squeeze(1), { 3, 1 }).shape)
    end)
    it("keeps the input's size for a nil adaptive output size", function()
      assert.are.same({ 1, 2, 4, 2 }, F.adaptive_avg_pool2d(x, { nil, 2 }).shape)
      local v, i = F.adaptive_max_pool2d(x, { 2, nil }, true)
      assert.are.same({ 1, 2, 2, 4 }, v.shape)
      assert.are.equal("int64", i.dtype)
      -- output_size = input size: the identity, indices every position
      local w, j = F.adaptive_max_pool2d(x, { nil, nil }, { return_indices = true })
      assert.are.same(helpers.values(x), helpers.values(w))
      assert.are.same(helpers.values(luann.arange(1, 17):view(1, 1, 4, 4):expand(1, 2, 4, 4)),
        helpers.values(j))
    end)
    it("names the op and the shapes in its errors", function()
      assert.has.error(function() F.max_pool2d(x, 5) end,
        "max_pool2d: kernel (5,5) (dilation (1,1)) is larger than the padded input (4,4) of input (1,2,4,4)")
      assert.has.error(function() F.max_pool1d(seq({ 1, 1, 2 }, 0), 2, 1, 0, 2) end,
        "max_pool1d: kernel (2) (dilation (2)) is larger than the padded input (2) of input (1,1,2)")
      assert.has.error(function() F.avg_pool2d(x, 2, 1, 2) end,
        "avg_pool2d: padding (2,2) must be at most half of the kernel (2,2)")
      assert.has.error(function() F.max_pool2d(seq({ 4, 4 }, 0), 2) end,
        "max_pool2d: expected a 3-d or 4-d input, got (4,4)")
      assert.has.error(function() F.max_pool2d(x, { 2, 2, 2 }) end,
        "max_pool2d: kernel_size must be a number or a list of 2, got 3 numbers")
      assert.has.error(function() F.max_pool2d(x, 2, { strides = 1 }) end,
        "max_pool2d: unknown option 'strides' (known: ceil_mode, dilation, kernel_size, padding, return_indices, stride)")
      assert.has.error(function() F.max_pool2d(x, 2, 1, { stride = 1 }) end,
        "max_pool2d: 'stride' given both by position and by name")
      assert.has.error(function() F.max_pool1d(x, 2, 1, 0, 1, false, false, 3) end,
        "max_pool1d: too many arguments (7, expected at most 6)")
      assert.has.error(function() F.adaptive_avg_pool2d(x) end,
        "adaptive_avg_pool2d: output_size is required")
    end)
  end)

  describe("modules", function()
    local x = seq({ 2, 3, 6, 6 }, 0.5)
    it("compute what the functions do", function()
      assert.are.same(helpers.values(F.max_pool2d(x, 3, 2, 1)),
        helpers.values(nn.MaxPool2d(3, 2, 1)(x)))
      assert.are.same(helpers.values(F.max_pool2d(x, 2, { ceil_mode = true })),
        helpers.values(nn.MaxPool2d(2, { ceil_mode = true })(x)))
      local x1 = seq({ 2, 3, 9 }, 0.2)
      assert.are.same(helpers.values(F.max_pool1d(x1, 3, 2)), helpers.values(nn.MaxPool1d(3, 2)(x1)))
      assert.are.same(helpers.values(F.avg_pool2d(x, 3, 2, 1, true, false)),
        helpers.values(nn.AvgPool2d(3, 2, 1, true, false)(x)))
      assert.are.same(helpers.values(F.adaptive_avg_pool2d(x, { 4, 5 })),
        helpers.values(nn.AdaptiveAvgPool2d({ 4, 5 })(x)))
      assert.are.same(helpers.values(F.adaptive_max_pool2d(x, 4)),
        helpers.values(nn.AdaptiveMaxPool2d(4)(x)))
      local v, i = nn.MaxPool2d(2, { return_indices = true })(x)
      local w, j = F.max_pool2d(x, 2, { return_indices = true })
      assert.are.same(helpers.values(w), helpers.values(v))
      assert.are.same(helpers.values(j), helpers.values(i))
    end)
    it("have no state and print their settings", function()
      for _, m in ipairs { nn.MaxPool1d(2), nn.MaxPool2d(2), nn.AvgPool2d(2),
                           nn.AdaptiveAvgPool2d(1), nn.AdaptiveMaxPool2d(1) } do
        assert.is_nil(next(m:state_dict()))
      end
      assert.are.equal("MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=false)",
        tostring(nn.MaxPool2d(3, 2, 1)))
      assert.are.equal("AdaptiveAvgPool2d(output_size=(4,nil))",
        tostring(nn.AdaptiveAvgPool2d({ 4, nil })))
    end)
  end)
end)

describe("luann.nn.functional pooling on OpenCL #opencl", function()
  -- f on the CPU and on OpenCL: the output, the indices where f returns
  -- them, and the input's grad agree.
  local function both(f, x) cmp.both(f, { x }, { grad = true }) end

  it("agrees with the CPU, forward and backward", function()
    if not cmp.HAVE then return pending("no OpenCL device") end
    local x2, x1 = distinct({ 2, 2, 5, 6 }), distinct({ 2, 3, 7 })
    both(function(t) return F.max_pool1d(t, 3, 2, 1, { return_indices = true }) end, x1)
    both(function(t) return F.max_pool2d(t, 2, { ceil_mode = true, return_indices = true }) end, x2)
    both(function(t) return F.max_pool2d(t, { 3, 2 }, 1, { 1, 0 }, 1, false, true) end, x2)
    both(function(t) return F.avg_pool2d(t, 3, 2, 1, true, false) end, x2)
    both(function(t) return F.avg_pool2d(t, 2, { padding = 1 }) end, x2)
    both(function(t) return F.adaptive_avg_pool2d(t, { 3, 4 }) end, x2)
    both(function(t) return F.adaptive_max_pool2d(t, { 3, 4 }, true) end, x2)
  end)
end)

describe("luann.max_pool2d_with_indices (the core's kernel under F.max_pool*)", function()
  it("reads strided inputs and puts a NaN first, as PyTorch", function()
    local x = luann.arange(1, 2 * 8 * 6 + 1):double():view(2, 8, 6):transpose(2, 3):unsqueeze(1) -- (2,1,6,8), strided
    local v, i = luann.max_pool2d_with_indices(x, { kernel_size = 2 })
    local c = x:contiguous()
    local v2, i2 = luann.max_pool2d_with_indices(c, { kernel_size = 2 })
    assert.are.same(v2:tolist(), v:tolist())
    assert.are.same(i2:tolist(), i:tolist())
    assert.are.equal(c[1][1][2][2], v[1][1][1][1]) -- the window's bottom right is its largest
    assert.are.equal(1 * 8 + 2, i[1][1][1][1]) -- row 2, column 2: 1-based flat position in the 6x8 plane
    local n = luann.tensor({ { { { 1, 0 / 0 }, { 5, 2 } } } }, { dtype = "float64" })
    local nv, ni = luann.max_pool2d_with_indices(n, { kernel_size = 2 })
    assert.is_true(nv:item() ~= nv:item())
    assert.are.equal(2, ni:item())
  end)

  it("sums the gradient of overlapping windows", function()
    local x = luann.tensor({ { { { 1, 3, 2 }, { 0, 0, 0 } } } }, { dtype = "float64", requires_grad = true })
    local v = luann.max_pool2d_with_indices(x, { kernel_size = 2, stride = 1 }) -- windows pick 3 and 3
    v:sum():backward()
    assert.are.same({ { { { 0, 2, 0 }, { 0, 0, 0 } } } }, x.grad:tolist())
    assert.is_true(luann.autograd.gradcheck(function(t)
      return luann.max_pool2d_with_indices(t, { kernel_size = 3, stride = 2, padding = 1, ceil_mode = true })
    end, { distinct({ 1, 2, 5, 6 }):requires_grad_() }))
  end)

  it("names bad arguments", function()
    assert.has_error(function() luann.max_pool2d_with_indices(luann.zeros(2, 3, 4), { kernel_size = 2 }) end,
      "max_pool2d: expected a 4-dim input (N, C, H, W), got shape (2,3,4)")
    assert.has_error(function() luann.max_pool2d_with_indices(luann.zeros(1, 1, 4, 4, { dtype = "int64" }), 2) end,
      "max_pool2d: expected a float32 or float64 input, got int64")
    assert.has_error(function() luann.max_pool2d_with_indices(luann.zeros(1, 1, 4, 4), { kernel_size = 5 }) end,
      "max_pool2d: the kernel (5 with dilation) is larger than the padded input (4)")
    assert.has_error(function() luann.max_pool2d_with_indices(luann.zeros(1, 1, 4, 4), { kernel_size = 2, padding = 2 }) end,
      "max_pool2d: padding 2 must be at most half of the kernel (2 with dilation)")
    assert.has_error(function() luann.max_pool2d_with_indices(luann.zeros(1, 1, 4, 4), { kernel_size = 1 << 40 }) end)
  end)
end)

describe("luann.max_pool2d_with_indices fast paths", function()
  -- The first maximum of each window (a NaN wins and stays) and its
  -- 1-based plane position, by plain loops over tolist().
  local function reference(x, k, s, pad)
    local t, oh, ow = x:tolist(), {}, {}
    local h, w = x:size(3), x:size(4)
    local nh, nw = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    local vals, idx = {}, {}
    for n = 1, #t do
      for c = 1, #t[n] do
        for i = 0, nh - 1 do
          for j = 0, nw - 1 do
            local best, at
            for a = 0, k - 1 do
              for b = 0, k - 1 do
                local r, col = i * s - pad + a, j * s - pad + b
                if r >= 0 and r < h and col >= 0 and col < w then
                  local v = t[n][c][r + 1][col + 1]
                  if not at or v > best or (v ~= v and best == best) then
                    best, at = v, r * w + col + 1
                  end
                end
              end
            end
            vals[#vals + 1], idx[#idx + 1] = best, at
          end
        end
      end
    end
    return vals, idx, oh, ow
  end

  -- x with ties (few distinct values), NaNs and infinities.
  local function awkward(shape)
    local x = luann.randint(0, 4, shape):double()
    local flat = x:view(-1)
    for i = 1, flat:size(1), 7 do flat[i] = 0 / 0 end
    for i = 3, flat:size(1), 11 do flat[i] = -math.huge end
    for i = 5, flat:size(1), 13 do flat[i] = math.huge end
    return x
  end

  local function same_values(got, expected)
    assert.are.equal(#expected, #got)
    for i = 1, #expected do
      local a, b = got[i], expected[i]
      assert(a == b or (a ~= a and b ~= b), ("element %d: got %s, expected %s"):format(i, a, b))
    end
  end

  it("2x2 windows, four at a time, agree with the plain loops", function()
    luann.manual_seed(5)
    for _, shape in ipairs({ { 2, 3, 9, 13 }, { 1, 2, 8, 8 }, { 1, 1, 3, 3 }, { 1, 1, 2, 18 } }) do
      local x = awkward(shape)
      local rv, ri = reference(x, 2, 2, 0)
      for _, dtype in ipairs({ "float32", "float64" }) do
        local v, i = luann.max_pool2d_with_indices(x:to(dtype), { kernel_size = 2 })
        same_values(helpers.values(v), rv)
        assert.are.same(ri, helpers.values(i))
      end
      -- strided rows, and other windows inside the image, and padded ones
      local v, i = luann.max_pool2d_with_indices(x:transpose(3, 4):float():transpose(3, 4), { kernel_size = 2 })
      same_values(helpers.values(v), rv)
      assert.are.same(ri, helpers.values(i))
      for _, g in ipairs(shape[3] >= 3 and { { 3, 1, 0 }, { 2, 1, 0 }, { 3, 2, 1 } } or {}) do
        local gv, gi = reference(x, g[1], g[2], g[3])
        local pv, pi = luann.max_pool2d_with_indices(x:float(), { kernel_size = g[1], stride = g[2], padding = g[3] })
        same_values(helpers.values(pv), gv)
        assert.are.same(gi, helpers.values(pi))
      end
    end
  end)

  it("returns the values alone when asked", function()
    local x = luann.randn(1, 2, 4, 4)
    assert.are.equal(1, select("#", luann.max_pool2d_with_indices(x, { kernel_size = 2, return_indices = false })))
    assert.are.equal(2, select("#", luann.max_pool2d_with_indices(x, { kernel_size = 2 })))
  end)

  it("puts the gradient where the windows picked, for any gradient strides", function()
    luann.manual_seed(6)
    local x = luann.randn(2, 3, 7, 9)
    for _, o in ipairs({ { kernel_size = 2 }, { kernel_size = 3, stride = 1, padding = 1 } }) do
      local grads, g = {}, nil
      for _, dtype in ipairs({ "float64", "float32" }) do
        local xs = x:to(dtype):detach():requires_grad_()
        local v = luann.max_pool2d_with_indices(xs, o)
        g = g or luann.randn(v:size(1), v:size(2), v:size(4), v:size(3)):transpose(3, 4)
        v:backward(g:to(dtype)) -- a strided gradient
        grads[dtype] = xs.grad
      end
      helpers.assert_close(grads.float32, helpers.values(grads.float64), 1e-6, 1e-6)
    end
  end)
end)
