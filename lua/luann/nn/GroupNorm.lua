--- nn.GroupNorm: the C channels of (N, C, ...) in num_groups groups, each
-- normalised over its channels and positions (F.group_norm), then a
-- learnable weight and bias per channel (affine).
-- @usage local gn = nn.GroupNorm(8, 64)
local luann = require "luann"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local F = require "luann.nn.functional"

local GroupNorm = Module:extend("GroupNorm")

local NAMES = { "num_groups", "num_channels", "eps", "affine", "dtype", "device" }

--- Arguments by position in PyTorch's order or by name in a trailing table:
-- num_groups (dividing num_channels), num_channels, eps = 1e-5, affine = true,
-- and the parameters' dtype and device.
function GroupNorm:__init(...)
  local a = check.args("nn.GroupNorm", NAMES, select("#", ...), ...)
  self.num_groups = check.integer("nn.GroupNorm", 1, a.num_groups, "num_groups", nil, 1, 3)
  self.num_channels = check.integer("nn.GroupNorm", 2, a.num_channels, "num_channels", nil, 1, 3)
  if self.num_channels % self.num_groups ~= 0 then
    check.error(string.format("nn.GroupNorm: num_groups %d does not divide num_channels %d",
      self.num_groups, self.num_channels), 2)
  end
  self.eps = check.number("nn.GroupNorm", 3, a.eps, "eps", 1e-5, 0, nil, 3)
  self.affine = check.boolean("nn.GroupNorm", 4, a.affine, "affine", true, 3)
  if self.affine then
    local topts = { dtype = a.dtype, device = a.device }
    self.weight = Parameter(luann.ones(self.num_channels, topts))
    self.bias = Parameter(luann.zeros(self.num_channels, topts))
  end
end

function GroupNorm:forward(x)
  return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
end

function GroupNorm:extra_repr()
  return string.format("%d, %d, eps=%g, affine=%s", self.num_groups, self.num_channels,
    self.eps, tostring(self.affine))
end

return GroupNorm
