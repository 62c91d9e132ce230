-- im2col and col2im (core/op_im2col.c), under F.unfold, F.fold and the
-- convolutions with a stride or groups: the columns against the windows of
-- padded views (t:unfold), for strides, dilations and paddings that put
-- windows partly outside the image, on a strided input; fold against
-- unfold as its adjoint.
local luann = require "luann"
local helpers = require "helpers"
local F = luann.nn.functional

describe("F.unfold and F.fold (im2col, col2im)", function()
  local function randn(...) return luann.randn({ ... }, { dtype = "float64" }) end

  -- The windows of x as pad + two t:unfold views, flattened as F.unfold's.
  local function windows(x, k, d, p, s)
    local n, c = x:size(1), x:size(2)
    local v = F.pad(x, { p[2], p[2], p[1], p[1] }):unfold(3, k[1], s[1], d[1]):unfold(4, k[2], s[2], d[2])
    local oh, ow = v:size(3), v:size(4)
    return v:permute(1, 2, 5, 6, 3, 4):reshape(n, c * k[1] * k[2], oh * ow)
  end

  local GEOMETRIES = {
    { k = { 3, 3 }, d = { 1, 1 }, p = { 1, 1 }, s = { 1, 1 } },
    { k = { 3, 2 }, d = { 1, 2 }, p = { 2, 1 }, s = { 2, 2 } },
    { k = { 2, 4 }, d = { 2, 1 }, p = { 0, 3 }, s = { 1, 3 } },
    { k = { 1, 1 }, d = { 1, 1 }, p = { 2, 2 }, s = { 2, 1 } },
  }

  it("takes the windows that padded views give, and fold is its adjoint", function()
    luann.manual_seed(12)
    for _, g in ipairs(GEOMETRIES) do
      local x = randn(2, 3, 9, 7):transpose(3, 4) -- (2, 3, 7, 9), strided
      local o = { kernel_size = g.k, dilation = g.d, padding = g.p, stride = g.s }
      for _, dtype in ipairs({ "float64", "float32" }) do
        local cols = F.unfold(x:to(dtype), o)
        helpers.assert_close(cols, helpers.values(windows(x, g.k, g.d, g.p, g.s)), 1e-6, 1e-6)
      end
      -- <fold(c), x> == <c, unfold(x)>
      local cols = F.unfold(x, o)
      local c = randn(table.unpack(cols.shape))
      o.output_size = { 7, 9 }
      local lhs = (F.fold(c, o) * x):sum():item()
      local rhs = (c * cols):sum():item()
      assert.is_true(math.abs(lhs - rhs) <= 1e-9 * (1 + math.abs(rhs)), lhs .. " vs " .. rhs)
    end
  end)
end)
