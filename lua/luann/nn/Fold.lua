--- nn.Fold: the adjoint of nn.Unfold, summing columns (N, C*kh*kw, L) back
-- into (N, C, output_size), through F.fold (col2im).
-- @usage local fold = nn.Fold({4, 5}, 2)
-- local fold = nn.Fold(5, 3, {padding = 1, stride = 2})
local F = require "luann.nn.functional"
local Module = require "luann.nn.Module"
local check = require "luann.utils.check"
local ConvNd = require "luann.nn.ConvNd"

local Fold = Module:extend("Fold")

--- @param output_size a number or {h, w}
-- @param kernel_size a number or {kh, kw}
-- @param dilation default 1, or an options table {dilation=, padding=, stride=}
-- @param padding default 0
-- @param stride default 1
function Fold:__init(output_size, kernel_size, dilation, padding, stride)
  local o = type(dilation) == "table" and rawlen(dilation) == 0 and dilation
    or { dilation = dilation, padding = padding, stride = stride }
  check.known_options("nn.Fold", o, { dilation = true, padding = true, stride = true }, 3)
  local f = "nn.Fold"
  self.output_size = ConvNd.sizes(f, 1, output_size, "output_size", nil, 1, 2)
  self.kernel_size = ConvNd.sizes(f, 2, kernel_size, "kernel_size", nil, 1, 2)
  self.dilation = ConvNd.sizes(f, 3, o.dilation, "dilation", 1, 1, 2)
  self.padding = ConvNd.sizes(f, 4, o.padding, "padding", 0, 0, 2)
  self.stride = ConvNd.sizes(f, 5, o.stride, "stride", 1, 1, 2)
end

--- @param x (N, C*kh*kw, L)
-- @return (N, C, h, w)
function Fold:forward(x)
  return F.fold(x, { output_size = self.output_size, kernel_size = self.kernel_size,
    dilation = self.dilation, padding = self.padding, stride = self.stride })
end

function Fold:extra_repr()
  local t = ConvNd.tuple_str
  return string.format("output_size=%s, kernel_size=%s, dilation=%s, padding=%s, stride=%s",
    t(self.output_size), t(self.kernel_size), t(self.dilation), t(self.padding), t(self.stride))
end

return Fold
