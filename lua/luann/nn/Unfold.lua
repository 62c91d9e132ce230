--- nn.Unfold: sliding blocks as columns, (N, C, H, W) -> (N, C*kh*kw, L),
-- through F.unfold (im2col).
-- @usage local unfold = nn.Unfold(3, {padding = 1})
-- local unfold = nn.Unfold({2, 3}, 1, 0, 2)    -- dilation, padding, stride
local F = require "luann.nn.functional"
local Module = require "luann.nn.Module"
local check = require "luann.utils.check"
local ConvNd = require "luann.nn.ConvNd"

local Unfold = Module:extend("Unfold")

--- @param kernel_size a number or {kh, kw}
-- @param dilation default 1, or an options table {dilation=, padding=, stride=}
-- @param padding default 0
-- @param stride default 1
function Unfold:__init(kernel_size, dilation, padding, stride)
  local o = type(dilation) == "table" and rawlen(dilation) == 0 and dilation
    or { dilation = dilation, padding = padding, stride = stride }
  check.known_options("nn.Unfold", o, { dilation = true, padding = true, stride = true }, 3)
  local f = "nn.Unfold"
  self.kernel_size = ConvNd.sizes(f, 1, kernel_size, "kernel_size", nil, 1, 2)
  self.dilation = ConvNd.sizes(f, 2, o.dilation, "dilation", 1, 1, 2)
  self.padding = ConvNd.sizes(f, 3, o.padding, "padding", 0, 0, 2)
  self.stride = ConvNd.sizes(f, 4, o.stride, "stride", 1, 1, 2)
end

--- @param x (N, C, H, W)
-- @return (N, C*kh*kw, L)
function Unfold:forward(x)
  return F.unfold(x, { kernel_size = self.kernel_size, dilation = self.dilation,
    padding = self.padding, stride = self.stride })
end

function Unfold:extra_repr()
  local t = ConvNd.tuple_str
  return string.format("kernel_size=%s, dilation=%s, padding=%s, stride=%s",
    t(self.kernel_size), t(self.dilation), t(self.padding), t(self.stride))
end

return Unfold
