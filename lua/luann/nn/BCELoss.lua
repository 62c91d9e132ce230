--- nn.BCELoss: Binary cross entropy of probabilities in [0,1]; the logs are clamped at
-- -100 like PyTorch's, so a confident wrong answer costs 100, not inf.
-- Options: {weight = elementwise weights, reduction=}.
-- @usage local criterion = nn.BCELoss()
-- local loss = criterion(input, target)
local Loss = require "luann.nn.Loss"

local BCELoss = Loss:extend("BCELoss")
BCELoss.fn = "binary_cross_entropy"

return BCELoss
