--- nn.BCEWithLogitsLoss: Sigmoid and binary cross entropy in one numerically stable formula;
-- pos_weight (one per class) weighs the positive term.
-- Options: {weight=, pos_weight = (C) tensor, reduction=}.
-- @usage local criterion = nn.BCEWithLogitsLoss({pos_weight = luann.full({3}, 2)})
-- local loss = criterion(input, target)
local Loss = require "luann.nn.Loss"

local BCEWithLogitsLoss = Loss:extend("BCEWithLogitsLoss")
BCEWithLogitsLoss.fn = "binary_cross_entropy_with_logits"

return BCEWithLogitsLoss
