--- nn.L1Loss: |input - target|, averaged (or summed).
-- Options: {reduction = "mean"}.
-- @usage local criterion = nn.L1Loss({reduction = "sum"})
-- local loss = criterion(input, target)
local Loss = require "luann.nn.Loss"

local L1Loss = Loss:extend("L1Loss")
L1Loss.fn = "l1_loss"

return L1Loss
