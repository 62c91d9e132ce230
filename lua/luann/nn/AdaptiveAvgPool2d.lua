--- nn.AdaptiveAvgPool2d: the mean over adaptive windows, (N, C, H, W) or
-- (C, H, W) to a fixed output size (F.adaptive_avg_pool2d).
-- @usage local pool = nn.AdaptiveAvgPool2d(1)       -- global average pooling
-- local pool = nn.AdaptiveAvgPool2d({7, nil})       -- H to 7, W kept
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local AdaptiveAvgPool2d = Module:extend("AdaptiveAvgPool2d")

--- @param output_size a number or {h, w}; a nil entry keeps the input's size
function AdaptiveAvgPool2d:__init(output_size)
  if type(output_size) == "table" then output_size = { output_size[1], output_size[2] } end
  self.output_size = output_size
end

function AdaptiveAvgPool2d:forward(x)
  return F.adaptive_avg_pool2d(x, self.output_size)
end

function AdaptiveAvgPool2d:extra_repr()
  local v = self.output_size
  if type(v) ~= "table" then return "output_size=" .. tostring(v) end
  return string.format("output_size=(%s,%s)", tostring(v[1]), tostring(v[2]))
end

return AdaptiveAvgPool2d
