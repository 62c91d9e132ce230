--- nn.Dropout2d: while training, zeroes whole channels of (N, C, H, W) or
-- (C, H, W) inputs with probability p and scales the others by 1/(1-p);
-- in eval mode (model:eval()) it passes the input through.
-- @usage local drop = nn.Dropout2d(0.2)
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local Dropout2d = Module:extend("Dropout2d")

--- @param p the probability of dropping a channel, in [0, 1] (default 0.5)
function Dropout2d:__init(p)
  self.p = check.number("nn.Dropout2d", 1, p, "p", 0.5, 0, 1, 3)
end

--- @param x a tensor (N, C, H, W) or (C, H, W)
-- @return a tensor of x's shape
function Dropout2d:forward(x)
  return F.dropout2d(x, self.p, self.training)
end

function Dropout2d:extra_repr()
  return "p=" .. self.p
end

return Dropout2d
