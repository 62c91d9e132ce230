--- optim.AdamW: Adam with decoupled weight decay (Loshchilov & Hutter):
-- p = p - lr * weight_decay * p before the Adam update, instead of adding
-- weight_decay * p to the gradient.
-- Settings: lr (1e-3), betas ({0.9, 0.999}), eps (1e-8), weight_decay (1e-2),
-- amsgrad (false).
-- @usage local opt = optim.AdamW(model:parameters(), {lr = 1e-3, weight_decay = 0.05})
local Adam = require "luann.optim.Adam"

local AdamW = Adam:extend("AdamW")
AdamW.defaults = { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 1e-2, amsgrad = false }
AdamW.decoupled = true

return AdamW
