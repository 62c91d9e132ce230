--- nn.MSELoss: (input - target)^2, averaged (or summed).
-- Options: {reduction = "mean"}.
-- @usage local criterion = nn.MSELoss()
-- local loss = criterion(input, target)
local Loss = require "luann.nn.Loss"

local MSELoss = Loss:extend("MSELoss")
MSELoss.fn = "mse_loss"

return MSELoss
