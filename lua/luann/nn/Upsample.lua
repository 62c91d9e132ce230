--- nn.Upsample: resizes (N, C, L), (N, C, H, W) or (N, C, D, H, W) to a
-- size or by a scale factor (F.interpolate), nearest by default.
-- @usage local up = nn.Upsample({scale_factor = 2})                 -- nearest
-- local up = nn.Upsample({size = {32, 32}, mode = "bilinear", align_corners = false})
-- local up = nn.Upsample(nil, 2, "bilinear")                       -- by position
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local Upsample = Module:extend("Upsample")

local NAMES = { "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor" }
local MODES = { "nearest", "nearest-exact", "linear", "bilinear", "trilinear" }

-- A list's copy (the module keeps its own), or the value itself.
local function own(v)
  if type(v) ~= "table" then return v end
  return table.move(v, 1, rawlen(v), 1, {})
end

--- Arguments by position in PyTorch's order (size, scale_factor, mode =
-- "nearest", align_corners, recompute_scale_factor) or by name in a trailing
-- table; see F.interpolate. The mode and the choice of size or scale_factor
-- are checked here, the rest against each input.
function Upsample:__init(...)
  local a = check.args("nn.Upsample", NAMES, select("#", ...), ...)
  if a.size ~= nil and a.scale_factor ~= nil then
    check.error("nn.Upsample: give size or scale_factor, not both", 2)
  elseif a.size == nil and a.scale_factor == nil then
    check.error("nn.Upsample: size or scale_factor is required", 2)
  end
  self.size, self.scale_factor = own(a.size), own(a.scale_factor)
  self.mode = check.choice("nn.Upsample", 3, a.mode, "mode", "nearest", MODES, 3)
  self.align_corners = a.align_corners
  self.recompute_scale_factor = a.recompute_scale_factor
end

--- @param x a tensor (N, C, spatial...)
-- @return x resized, of its dtype and device
function Upsample:forward(x)
  return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
    self.recompute_scale_factor)
end

local function value_str(v)
  return type(v) == "table" and "(" .. table.concat(v, ",") .. ")" or tostring(v)
end

function Upsample:extra_repr()
  local s = self.scale_factor ~= nil and "scale_factor=" .. value_str(self.scale_factor)
    or "size=" .. value_str(self.size)
  s = s .. ", mode=" .. self.mode
  if self.align_corners ~= nil then s = s .. ", align_corners=" .. tostring(self.align_corners) end
  return s
end

return Upsample
