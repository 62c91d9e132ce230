-- model.lua: the Lua side of the embedding example (host.c runs it).
-- A small classifier: 4 inputs -> 8 hidden units (ReLU) -> 3 class
-- probabilities (softmax), with weights drawn from a fixed seed so every run
-- computes the same numbers. The host gets the weights to check the result.
local luann = require "luann"

local M = { inputs = 4, hidden = 8, classes = 3 }

luann.manual_seed(42)
M.params = {
  w1 = luann.randn(M.inputs, M.hidden) * 0.5,   -- (4,8)
  b1 = luann.randn(M.hidden) * 0.1,             -- (8)
  w2 = luann.randn(M.hidden, M.classes) * 0.5,  -- (8,3)
  b2 = luann.randn(M.classes) * 0.1,            -- (3)
}

--- Class probabilities for a batch.
-- @param x tensor (N,4)
-- @return tensor (N,3), each row summing to 1
function M.forward(x)
  local p = M.params
  local h = luann.relu(luann.matmul(x, p.w1) + p.b1)
  local logits = luann.matmul(h, p.w2) + p.b2
  local e = luann.exp(logits - logits:max(2, true))
  return e / e:sum(2, true)
end

return M
