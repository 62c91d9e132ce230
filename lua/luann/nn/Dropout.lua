--- nn.Dropout: while training, zeroes each element with probability p and
-- scales the others by 1/(1-p), so the expected value is unchanged; in
-- eval mode (model:eval()) it passes the input through.
-- @usage local drop = nn.Dropout(0.2)
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local Dropout = Module:extend("Dropout")

--- @param p the drop probability in [0, 1] (default 0.5)
function Dropout:__init(p)
  self.p = check.number("nn.Dropout", 1, p, "p", 0.5, 0, 1, 3)
end

--- @param x a tensor
-- @return a tensor of x's shape
function Dropout:forward(x)
  return F.dropout(x, self.p, self.training)
end

function Dropout:extra_repr()
  return "p=" .. self.p
end

return Dropout
