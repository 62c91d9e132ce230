--- nn.PReLU: x for x > 0, a * x otherwise, with the slope a learned: one
-- shared (num_parameters = 1) or one per channel (dim 2 of the input).
-- @usage local act = nn.PReLU()      -- one slope, starting at 0.25
-- local act = nn.PReLU(64)            -- one per channel of (N, 64, H, W)
-- local act = nn.PReLU(3, 0.1, {dtype = "float64"})
local luann = require "luann"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local F = require "luann.nn.functional"
local init = require "luann.nn.initializers"

local PReLU = Module:extend("PReLU")

--- Makes the layer; its parameter `weight` (num_parameters) holds the slopes.
-- @param num_parameters 1 or the number of channels (default 1)
-- @param init_value the slopes' starting value (default 0.25)
-- @param opts {dtype = "float32", device = "cpu"}
function PReLU:__init(num_parameters, init_value, opts)
  self.num_parameters = check.integer("nn.PReLU", 1, num_parameters, "num_parameters", 1, 1, 3)
  self.init = check.number("nn.PReLU", 2, init_value, "init", 0.25, nil, nil, 3)
  opts = check.options("nn.PReLU", 3, opts, 3)
  check.known_options("nn.PReLU", opts, { dtype = true, device = true }, 3)
  self.weight = Parameter(luann.empty(self.num_parameters, { dtype = opts.dtype, device = opts.device }))
  self:reset_parameters()
end

--- Sets every slope back to the starting value.
function PReLU:reset_parameters()
  init.constant_(self.weight, self.init)
end

--- @param x a tensor (N, C, ...)
-- @return a tensor of x's shape
function PReLU:forward(x)
  return F.prelu(x, self.weight)
end

function PReLU:extra_repr()
  return "num_parameters=" .. self.num_parameters
end

return PReLU
