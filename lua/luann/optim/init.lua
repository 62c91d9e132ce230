--- luann.optim: optimizers and learning-rate schedulers (PyTorch's torch.optim).
--
--    local optim = require "luann.optim"   -- or luann.optim
--    local opt = optim.SGD(model:parameters(), {lr = 0.01, momentum = 0.9})
--    local sched = optim.lr_scheduler.StepLR(opt, 10)   -- also optim.StepLR
--
-- Every optimizer's step() updates each parameter with one fused kernel
-- (luann._sgd_step, _adam_step, _rmsprop_step, _adagrad_step).
local lr_scheduler = require "luann.optim.lr_scheduler"

local optim = {
  Optimizer = require "luann.optim.Optimizer",
  SGD = require "luann.optim.SGD",
  Adam = require "luann.optim.Adam",
  AdamW = require "luann.optim.AdamW",
  RMSprop = require "luann.optim.RMSprop",
  Adagrad = require "luann.optim.Adagrad",
  lr_scheduler = lr_scheduler,
}

for name, sched in pairs(lr_scheduler) do optim[name] = sched end

return optim
