-- Resizing (luann.nn.functional's interpolate and nn.Upsample): every case
-- of spec/reference/resize.lua against PyTorch in float64 (output and input
-- gradient), finite-difference gradients, OpenCL against the CPU, the
-- argument forms and errors, and the module.
local luann = require "luann"
local nn = require "luann.nn"
local F = nn.functional
local ref = require "reference.load"
local helpers = require "helpers"
local cmp = require "opencl_compare"

local TOL = 1e-12

local function seq(shape, c, dtype)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local v = {}
  for i = 1, n do v[i] = math.sin(0.7 * i + c) end
  return luann.tensor(v, { dtype = dtype or "float64" }):view(table.unpack(shape))
end

local names = {}
for name in pairs(ref.family("resize")) do names[#names + 1] = name end
table.sort(names)

describe("luann.nn.functional.interpolate", function()
  describe("against PyTorch", function()
    for _, name in ipairs(names) do
      it(name, function()
        local c = ref.case("resize", name)
        local x = ref.tensor(c.inputs.input):requires_grad_()
        local opts = {}
        for k, v in pairs(c.options) do opts[k] = v end
        local out = F.interpolate(x, opts)
        assert.are.same(c.output.shape, out.shape)
        helpers.assert_close(out, c.output.data, TOL, TOL)
        out:backward(ref.tensor(c.grad_output))
        helpers.assert_close(x.grad, c.grads.input.data, TOL, TOL)
      end)
    end
  end)

  describe("gradcheck", function()
    local gradcheck = luann.autograd.gradcheck
    local cases = {
      { { 1, 2, 5 }, { size = 7, mode = "linear" } },
      { { 1, 2, 3, 4 }, { size = { 5, 3 }, mode = "bilinear" } },
      { { 1, 2, 3, 4 }, { size = { 5, 3 }, mode = "bilinear", align_corners = true } },
      { { 1, 1, 6, 5 }, { scale_factor = { 0.5, 1.5 }, mode = "bilinear" } },
      { { 1, 1, 4, 5 }, { scale_factor = 1.7, mode = "bilinear", align_corners = true } },
      { { 1, 1, 2, 3, 2 }, { size = { 3, 2, 4 }, mode = "trilinear" } },
      { { 1, 2, 3, 4 }, { scale_factor = 2 } },
      { { 1, 2, 7, 5 }, { size = { 3, 4 } } },
      { { 1, 2, 7 }, { size = 10, mode = "nearest-exact" } },
    }
    for _, case in ipairs(cases) do
      local shape, opts = case[1], case[2]
      local keys = {}
      for k, v in pairs(opts) do
        keys[#keys + 1] = k .. "=" .. (type(v) == "table" and "{" .. table.concat(v, ",") .. "}" or tostring(v))
      end
      table.sort(keys)
      it(table.concat(shape, "x") .. " " .. table.concat(keys, " "), function()
        local x = seq(shape, 0.3):requires_grad_()
        assert.is_true(gradcheck(function(t) return F.interpolate(t, opts) end, { x }))
      end)
    end
  end)

  describe("arguments", function()
    local x = seq({ 1, 2, 4, 4 }, 0)

    it("takes options by position or by name", function()
      local a = F.interpolate(x, { 6, 3 }, nil, "bilinear", true)
      local b = F.interpolate(x, { size = { 6, 3 }, mode = "bilinear", align_corners = true })
      local c = F.interpolate(x, { 6, 3 }, { mode = "bilinear", align_corners = true })
      assert.are.same({ 1, 2, 6, 3 }, a.shape)
      assert.are.same(helpers.values(a), helpers.values(b))
      assert.are.same(helpers.values(a), helpers.values(c))
      assert.are.same(helpers.values(F.interpolate(x, nil, 2)),
        helpers.values(F.interpolate(x, { scale_factor = { 2, 2 } })))
    end)

    it("nearest at twice the size repeats each element in 2x2 blocks", function()
      local t = luann.tensor({ { 1, 2 }, { 3, 4 } }):view(1, 1, 2, 2)
      assert.are.same({ { { { 1, 1, 2, 2 }, { 1, 1, 2, 2 }, { 3, 3, 4, 4 }, { 3, 3, 4, 4 } } } },
        F.interpolate(t, { scale_factor = 2 }):tolist())
      -- nearest works on integer tensors too
      local i = luann.tensor({ 1, 2, 3 }, { dtype = "int64" }):view(1, 1, 3)
      assert.are.same({ { { 1, 1, 2, 2, 3, 3 } } }, F.interpolate(i, 6):tolist())
    end)

    it("nearest rounds as PyTorch's kernel, in the input's precision", function()
      -- from 2 to 82, output 41 is at 41 * 2/82: 1 in float64, 0.99999994 in float32
      local rows = {}
      for _, dtype in ipairs { "float64", "float32" } do
        local t = luann.tensor({ 10, 20 }, { dtype = dtype }):view(1, 1, 2)
        rows[dtype] = F.interpolate(t, 82):view(-1):tolist()
      end
      assert.are.same({ 10, 20, 20 }, { rows.float64[41], rows.float64[42], rows.float64[43] })
      assert.are.same({ 10, 10, 20 }, { rows.float32[41], rows.float32[42], rows.float32[43] })
    end)

    it("bilinear with align_corners keeps the corners and is linear in between", function()
      local t = luann.tensor({ { 0, 3 }, { 6, 9 } }, { dtype = "float64" }):view(1, 1, 2, 2)
      local y = F.interpolate(t, { size = 4, mode = "bilinear", align_corners = true })
      assert.are.same({ { { { 0, 1, 2, 3 }, { 2, 3, 4, 5 }, { 4, 5, 6, 7 }, { 6, 7, 8, 9 } } } }, y:tolist())
    end)

    it("keeps the input's dtype, and gives a new tensor where nothing changes", function()
      local x32 = seq({ 1, 1, 3, 3 }, 1, "float32")
      local y = F.interpolate(x32, { size = { 5, 4 }, mode = "bilinear" })
      assert.are.equal("float32", y.dtype)
      local y64 = F.interpolate(x32:double(), { size = { 5, 4 }, mode = "bilinear" })
      assert.is_true(luann.allclose(y:double(), y64, 1e-6, 1e-6))
      local same = F.interpolate(x, { scale_factor = 1.2, mode = "bilinear" })
      assert.are.same(helpers.values(x), helpers.values(same))
      assert.is_false(rawequal(x, same))
      same:fill_(0)
      assert.are_not.equal(0, x:abs():sum():item())
    end)

    it("names interpolate and the shapes in its errors", function()
      local x3 = seq({ 1, 2, 5 }, 0)
      assert.has.error(function() F.interpolate(x, { size = 3, scale_factor = 2 }) end,
        "interpolate: give size or scale_factor, not both")
      assert.has.error(function() F.interpolate(x) end,
        "interpolate: size or scale_factor is required")
      assert.has.error(function() F.interpolate(x, { 3 }) end,
        "interpolate: size must be a number or a list of 2 (one per spatial dim of input (1,2,4,4)), got 1 numbers")
      assert.has.error(function() F.interpolate(x, { scale_factor = { 2, 2, 2 } }) end,
        "interpolate: scale_factor must be a number or a list of 2 (one per spatial dim of input (1,2,4,4)), got 3 numbers")
      assert.has.error(function() F.interpolate(x3, { size = 3, mode = "bilinear" }) end,
        "interpolate: mode \"bilinear\" needs a 4-d input (N, C, H, W), got shape (1,2,5)")
      assert.has.error(function() F.interpolate(x, { size = 3, mode = "linear" }) end,
        "interpolate: mode \"linear\" needs a 3-d input (N, C, L), got shape (1,2,4,4)")
      assert.has.error(function() F.interpolate(x, { size = 3, mode = "trilinear" }) end,
        "interpolate: mode \"trilinear\" needs a 5-d input (N, C, D, H, W), got shape (1,2,4,4)")
      assert.has.error(function() F.interpolate(seq({ 4, 4 }, 0), 2) end,
        "interpolate: mode \"nearest\" needs a 3-d, 4-d or 5-d input (N, C, spatial...), got shape (4,4)")
      assert.has.error(function() F.interpolate(x, { size = 3, mode = "bicubic" }) end,
        "interpolate: bad argument #4 'mode' (expected one of \"nearest\", \"nearest-exact\", " ..
        "\"linear\", \"bilinear\", \"trilinear\", got \"bicubic\")")
      assert.has.error(function() F.interpolate(x, { size = 3, align_corners = false }) end,
        "interpolate: align_corners is for the interpolating modes (linear, bilinear, trilinear), not \"nearest\"")
      assert.has.error(function() F.interpolate(x, { size = 3, sizes = 2 }) end,
        "interpolate: unknown option 'sizes' (known: align_corners, antialias, mode, " ..
        "recompute_scale_factor, scale_factor, size)")
      assert.has.error(function() F.interpolate(x, { size = 0 }) end,
        "interpolate: bad argument #2 'size' (must be >= 1, got 0)")
      assert.has.error(function() F.interpolate(x, { size = { 2, 2.5 } }) end,
        "interpolate: bad argument #2 'size' (integer expected, got 2.5)")
      assert.has.error(function() F.interpolate(x, { scale_factor = -1 }) end,
        "interpolate: bad argument #3 'scale_factor' (must be positive and finite, got -1)")
      assert.has.error(function() F.interpolate(x, { scale_factor = { 2, 0.2 } }) end,
        "interpolate: scale_factor gives an empty output (8,0) from input (1,2,4,4)")
      assert.has.error(function() F.interpolate(x, { scale_factor = 1e300 }) end,
        "interpolate: scale_factor 1e+300 makes dim 3 of input (1,2,4,4) too large")
      assert.has.error(function() F.interpolate(luann.zeros(1, 1, 0), { size = 3 }) end,
        "interpolate: input (1,1,0) has an empty spatial dim")
      assert.are.same({ 0, 2, 3 }, F.interpolate(luann.zeros(0, 2, 4), { size = 3, mode = "linear" }).shape)
      assert.has.error(function() F.interpolate(x:long(), { size = 3, mode = "bilinear" }) end,
        "interpolate: mode \"bilinear\" needs a floating point input, got int64")
      assert.has.error(function() F.interpolate(x, { size = 3, recompute_scale_factor = true }) end,
        "interpolate: recompute_scale_factor is for scale_factor, not an explicit size")
      assert.has.error(function() F.interpolate(x, { scale_factor = 2, recompute_scale_factor = 1 }) end,
        "interpolate: bad argument #6 'recompute_scale_factor' (boolean expected, got number)")
      assert.has.error(function() F.interpolate(x, { size = 3, antialias = true }) end,
        "interpolate: antialias is not supported")
      assert.has.error(function() F.interpolate("x", 2) end,
        "interpolate: bad argument #1 'input' (tensor expected, got string)")
    end)

    it("raises at the caller's line", function()
      local ok, err = pcall(function() F.interpolate(x, { size = { 1, 2, 3 } }) end)
      assert.is_false(ok)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: size must be", err)
      ok, err = pcall(function() F.interpolate(x, { scale_factor = "2" }) end)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: bad argument #3 'scale_factor'", err)
      ok, err = pcall(function() F.interpolate(x, { size = 3, mode = "cubic" }) end)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: bad argument #4 'mode'", err)
      ok, err = pcall(function() F.interpolate(x, { size = 3, recompute_scale_factor = true }) end)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: recompute_scale_factor is for", err)
      ok, err = pcall(function() F.interpolate(x, { size = { 3, -1 } }) end)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: bad argument #2 'size'", err)
      ok, err = pcall(function() F.interpolate(x, { size = 3, mode = "linear" }) end)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: mode \"linear\"", err)
      ok, err = pcall(function() F.interpolate(x, 3, { foo = 1 }) end)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: unknown option 'foo'", err)
      ok, err = pcall(function() F.interpolate(x) end)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: size or scale_factor", err)
      ok, err = pcall(function() F.interpolate(x, 3, { antialias = true }) end)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: antialias", err)
      ok, err = pcall(function() F.interpolate(x, { scale_factor = 2, recompute_scale_factor = 1 }) end)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: bad argument #6", err)
      ok, err = pcall(function() F.interpolate(x, { scale_factor = 0.1 }) end)
      assert.matches("^spec/resize_spec.lua:%d+: interpolate: scale_factor gives", err)
    end)
  end)
end)

describe("nn.Upsample", function()
  local x = seq({ 2, 3, 4, 5 }, 0.5)

  it("computes what F.interpolate does", function()
    assert.are.same(helpers.values(F.interpolate(x, nil, 2)),
      helpers.values(nn.Upsample({ scale_factor = 2 })(x)))
    assert.are.same(helpers.values(F.interpolate(x, { 7, 3 }, { mode = "bilinear", align_corners = true })),
      helpers.values(nn.Upsample({ 7, 3 }, nil, "bilinear", true)(x)))
    local c = ref.case("resize", "bilinear_scale_fractional_no_align")
    local up = nn.Upsample({ scale_factor = { 1.7, 0.6 }, mode = "bilinear", align_corners = false })
    helpers.assert_close(up(ref.tensor(c.inputs.input)), c.output.data, TOL, TOL)
  end)

  it("has no state and prints its settings", function()
    local up = nn.Upsample({ scale_factor = 2 })
    assert.is_nil(next(up:state_dict()))
    assert.are.equal("Upsample(scale_factor=2, mode=nearest)", tostring(up))
    assert.are.equal("Upsample(size=(4,6), mode=bilinear, align_corners=false)",
      tostring(nn.Upsample({ size = { 4, 6 }, mode = "bilinear", align_corners = false })))
    assert.are.equal("Upsample(scale_factor=(1.5,2), mode=nearest)",
      tostring(nn.Upsample(nil, { 1.5, 2 })))
  end)

  it("keeps its own copy of a size list", function()
    local size = { 3, 3 }
    local up = nn.Upsample(size)
    size[1] = 9
    assert.are.same({ 2, 3, 3, 3 }, up(x).shape)
  end)

  it("checks its arguments when made", function()
    assert.has.error(function() nn.Upsample({ size = 2, scale_factor = 2 }) end,
      "nn.Upsample: give size or scale_factor, not both")
    assert.has.error(function() nn.Upsample() end, "nn.Upsample: size or scale_factor is required")
    assert.has.error(function() nn.Upsample({ size = 2, mode = "area" }) end,
      "nn.Upsample: bad argument #3 'mode' (expected one of \"nearest\", \"nearest-exact\", " ..
      "\"linear\", \"bilinear\", \"trilinear\", got \"area\")")
    assert.has.error(function() nn.Upsample({ scale = 2 }) end,
      "nn.Upsample: unknown option 'scale' (known: align_corners, mode, recompute_scale_factor, " ..
      "scale_factor, size)")
  end)
end)

describe("interpolate on OpenCL #opencl", function()
  local function both(f, x) cmp.both(f, { x }, { grad = true }) end

  it("agrees with the CPU, forward and backward", function()
    if not cmp.HAVE then return pending("no OpenCL device") end
    local x4, x3 = seq({ 1, 2, 3, 4 }, 0.1), seq({ 2, 2, 5 }, 0.2)
    both(function(t) return F.interpolate(t, { size = { 5, 7 }, mode = "bilinear" }) end, x4)
    both(function(t) return F.interpolate(t, { size = { 2, 3 }, mode = "bilinear", align_corners = true }) end, x4)
    both(function(t) return F.interpolate(t, { scale_factor = { 1.7, 0.6 }, mode = "bilinear" }) end, x4)
    both(function(t) return F.interpolate(t, { scale_factor = 2 }) end, x4)
    both(function(t) return F.interpolate(t, { size = { 2, 6 } }) end, x4)
    both(function(t) return F.interpolate(t, { size = 8, mode = "linear", align_corners = true }) end, x3)
    both(function(t) return F.interpolate(t, { size = 3, mode = "nearest-exact" }) end, x3)
    both(function(t) return nn.Upsample({ scale_factor = 2, mode = "bilinear" })(t) end, x4:float())
  end)
end)
