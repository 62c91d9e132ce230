--- nn.Flatten: merges dims start_dim..end_dim into one. The defaults (2, -1)
-- keep the batch dim: (N, 1, 28, 28) -> (N, 784), PyTorch's start_dim=1.
-- @usage local flat = nn.Flatten()
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"

local Flatten = Module:extend("Flatten")

--- @param start_dim first dim to merge, 1-based (default 2)
-- @param end_dim last dim to merge (default -1, the last)
function Flatten:__init(start_dim, end_dim)
  self.start_dim = check.integer("nn.Flatten", 1, start_dim, "start_dim", 2, nil, 3)
  self.end_dim = check.integer("nn.Flatten", 2, end_dim, "end_dim", -1, nil, 3)
end

--- @param x a tensor
-- @return a view (or copy when the layout needs one) with the dims merged
function Flatten:forward(x)
  check.tensor("nn.Flatten", 1, x, "input")
  return x:flatten(self.start_dim, self.end_dim)
end

function Flatten:extra_repr()
  return string.format("start_dim=%d, end_dim=%d", self.start_dim, self.end_dim)
end

return Flatten
