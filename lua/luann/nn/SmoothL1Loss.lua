--- nn.SmoothL1Loss: 0.5 d^2 / beta for d = |input - target| < beta, d - 0.5 beta above:
-- quadratic near zero, linear for outliers.
-- Options: {beta = 1, reduction=}, or beta alone.
-- @usage local criterion = nn.SmoothL1Loss(0.5)
-- local loss = criterion(input, target)
local Loss = require "luann.nn.Loss"

local SmoothL1Loss = Loss:extend("SmoothL1Loss")
SmoothL1Loss.fn = "smooth_l1_loss"
SmoothL1Loss.positional = "beta"

return SmoothL1Loss
