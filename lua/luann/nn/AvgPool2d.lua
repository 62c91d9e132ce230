--- nn.AvgPool2d: the mean over sliding windows of (N, C, H, W) or
-- (C, H, W) (F.avg_pool2d).
-- @usage local pool = nn.AvgPool2d(2)
-- local pool = nn.AvgPool2d(3, {stride = 2, padding = 1, count_include_pad = false})
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local AvgPool2d = Module:extend("AvgPool2d")

local NAMES = { "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                "divisor_override" }

--- Arguments by position in PyTorch's order (kernel_size, stride = kernel_size,
-- padding = 0, ceil_mode = false, count_include_pad = true, divisor_override)
-- or by name in a trailing table; sizes a number or {h, w}.
function AvgPool2d:__init(...)
  local a = check.args("nn.AvgPool2d", NAMES, select("#", ...), ...)
  if a.kernel_size == nil then check.error("nn.AvgPool2d: kernel_size is required", 2) end
  self.kernel_size, self.stride = a.kernel_size, a.stride or a.kernel_size
  self.padding, self.ceil_mode = a.padding or 0, a.ceil_mode or false
  self.count_include_pad = a.count_include_pad ~= false
  self.divisor_override = a.divisor_override
end

function AvgPool2d:forward(x)
  return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
    self.count_include_pad, self.divisor_override)
end

local function size_str(v)
  return type(v) == "table" and "(" .. table.concat(v, ",") .. ")" or tostring(v)
end

function AvgPool2d:extra_repr()
  return string.format("kernel_size=%s, stride=%s, padding=%s", size_str(self.kernel_size),
    size_str(self.stride), size_str(self.padding))
end

return AvgPool2d
