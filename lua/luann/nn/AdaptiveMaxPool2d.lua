--- nn.AdaptiveMaxPool2d: the max over adaptive windows, (N, C, H, W) or
-- (C, H, W) to a fixed output size (F.adaptive_max_pool2d), with the input's
-- 1-based flat positions when return_indices is set.
-- @usage local pool = nn.AdaptiveMaxPool2d({5, 7})
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local AdaptiveMaxPool2d = Module:extend("AdaptiveMaxPool2d")

--- @param output_size a number or {h, w}; a nil entry keeps the input's size
-- @param return_indices default false
function AdaptiveMaxPool2d:__init(output_size, return_indices)
  if type(output_size) == "table" then output_size = { output_size[1], output_size[2] } end
  self.output_size, self.return_indices = output_size, return_indices or false
end

function AdaptiveMaxPool2d:forward(x)
  return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)
end

function AdaptiveMaxPool2d:extra_repr()
  local v = self.output_size
  if type(v) ~= "table" then return "output_size=" .. tostring(v) end
  return string.format("output_size=(%s,%s)", tostring(v[1]), tostring(v[2]))
end

return AdaptiveMaxPool2d
