--- nn.NLLLoss: Negative log likelihood of log-probabilities (N,C) (from LogSoftmax)
-- for 1-based int64 classes (N).
-- Options: {weight=, ignore_index=, reduction=}.
-- @usage local criterion = nn.NLLLoss()
-- local loss = criterion(input, target)
local Loss = require "luann.nn.Loss"

local NLLLoss = Loss:extend("NLLLoss")
NLLLoss.fn = "nll_loss"

return NLLLoss
