--- nn.CrossEntropyLoss: Cross entropy of logits (N,C) against 1-based int64 classes (N) or
-- class probabilities (N,C): log-softmax and NLL fused in one stable op.
-- Options: {weight = (C) class weights, ignore_index = a class to skip,
--   label_smoothing = 0..1, reduction = "mean"}.
-- @usage local criterion = nn.CrossEntropyLoss({label_smoothing = 0.1})
-- local loss = criterion(input, target)
local Loss = require "luann.nn.Loss"

local CrossEntropyLoss = Loss:extend("CrossEntropyLoss")
CrossEntropyLoss.fn = "cross_entropy"

return CrossEntropyLoss
