--- optim.lr_scheduler: learning-rate schedules, with PyTorch's formulas.
--
--    local sched = optim.lr_scheduler.StepLR(opt, {step_size = 30, gamma = 0.1})
--    for epoch = 1, 90 do train(); sched:step() end
--
-- Making a scheduler sets each group's lr for step 0; every step() advances
-- one step (an epoch, or a batch for OneCycleLR) and sets the lrs for it.
-- Settings are given positionally as in PyTorch (StepLR(opt, 30, 0.1)) or as
-- one options table. Each schedule is a closed form of last_epoch, so
-- state_dict/load_state_dict resume exactly.
local check = require "luann.utils.check"

local M = {}

local LRScheduler = require "luann.optim.LRScheduler"
local args = LRScheduler.args
M.LRScheduler = LRScheduler

-- Each group's base lr times factor(last_epoch).
local function scaled(self, factor)
  local out = {}
  for i, base in ipairs(self.base_lrs) do out[i] = base * factor end
  return out
end

--- StepLR: lr = base * gamma^floor(epoch / step_size).
-- @param optimizer the optimizer
-- @param step_size epochs between decays (or an options table {step_size=, gamma=, last_epoch=})
-- @param gamma the decay factor (default 0.1)
M.StepLR = LRScheduler:extend("StepLR")
function M.StepLR:__init(optimizer, step_size, gamma, last_epoch)
  local o = args("lr_scheduler.StepLR", step_size, { "step_size", "gamma", "last_epoch" },
    gamma, last_epoch)
  self.step_size = check.integer("lr_scheduler.StepLR", 2, o.step_size, "step_size", nil, 1, 3)
  self.gamma = check.number("lr_scheduler.StepLR", 3, o.gamma, "gamma", 0.1, nil, nil, 3)
  self:setup(optimizer, o.last_epoch, 4)
end
--- The learning rates of this epoch, one per parameter group.
function M.StepLR:get_lr()
  return scaled(self, self.gamma ^ (self.last_epoch // self.step_size))
end

--- MultiStepLR: lr = base * gamma^(number of milestones <= epoch).
-- @param milestones a list of increasing epoch indices (or an options table)
-- @param gamma the decay factor (default 0.1)
M.MultiStepLR = LRScheduler:extend("MultiStepLR")
function M.MultiStepLR:__init(optimizer, milestones, gamma, last_epoch)
  local o = args("lr_scheduler.MultiStepLR", milestones,
    { "milestones", "gamma", "last_epoch", list_first = true }, gamma, last_epoch)
  if type(o.milestones) ~= "table" then
    check.error("lr_scheduler.MultiStepLR: bad argument #2 'milestones' (list of integers expected)", 2)
  end
  self.milestones = {}
  for i, m in ipairs(o.milestones) do
    self.milestones[i] = check.integer("lr_scheduler.MultiStepLR", 2, m, "milestones", nil, nil, 3)
  end
  table.sort(self.milestones)
  self.gamma = check.number("lr_scheduler.MultiStepLR", 3, o.gamma, "gamma", 0.1, nil, nil, 3)
  self:setup(optimizer, o.last_epoch, 4)
end
--- The learning rates of this epoch, one per parameter group.
function M.MultiStepLR:get_lr()
  local passed = 0
  for _, m in ipairs(self.milestones) do
    if m <= self.last_epoch then passed = passed + 1 end
  end
  return scaled(self, self.gamma ^ passed)
end

--- ExponentialLR: lr = base * gamma^epoch.
-- @param gamma the decay factor per epoch (or an options table)
M.ExponentialLR = LRScheduler:extend("ExponentialLR")
function M.ExponentialLR:__init(optimizer, gamma, last_epoch)
  local o = args("lr_scheduler.ExponentialLR", gamma, { "gamma", "last_epoch" }, last_epoch)
  self.gamma = check.number("lr_scheduler.ExponentialLR", 2, o.gamma, "gamma", nil, nil, nil, 3)
  self:setup(optimizer, o.last_epoch, 4)
end
--- The learning rates of this epoch, one per parameter group.
function M.ExponentialLR:get_lr()
  return scaled(self, self.gamma ^ self.last_epoch)
end

--- CosineAnnealingLR: lr = eta_min + (base - eta_min) (1 + cos(pi epoch / T_max)) / 2.
-- @param T_max the half period in epochs (or an options table)
-- @param eta_min the lowest lr (default 0)
M.CosineAnnealingLR = LRScheduler:extend("CosineAnnealingLR")
function M.CosineAnnealingLR:__init(optimizer, T_max, eta_min, last_epoch)
  local o = args("lr_scheduler.CosineAnnealingLR", T_max, { "T_max", "eta_min", "last_epoch" },
    eta_min, last_epoch)
  self.T_max = check.integer("lr_scheduler.CosineAnnealingLR", 2, o.T_max, "T_max", nil, 1, 3)
  self.eta_min = check.number("lr_scheduler.CosineAnnealingLR", 3, o.eta_min, "eta_min", 0, nil, nil, 3)
  self:setup(optimizer, o.last_epoch, 4)
end
--- The learning rates of this epoch, one per parameter group.
function M.CosineAnnealingLR:get_lr()
  local out, c = {}, (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
  for i, base in ipairs(self.base_lrs) do out[i] = self.eta_min + (base - self.eta_min) * c end
  return out
end

--- LinearLR: the factor goes linearly from start_factor to end_factor over
-- total_iters steps: lr = base * (s + (e - s) * min(epoch, total_iters) / total_iters).
-- @param start_factor default 1/3 (or an options table)
-- @param end_factor default 1
-- @param total_iters default 5
M.LinearLR = LRScheduler:extend("LinearLR")
function M.LinearLR:__init(optimizer, start_factor, end_factor, total_iters, last_epoch)
  local o = args("lr_scheduler.LinearLR", start_factor,
    { "start_factor", "end_factor", "total_iters", "last_epoch" },
    end_factor, total_iters, last_epoch)
  local fname = "lr_scheduler.LinearLR"
  self.start_factor = check.number(fname, 2, o.start_factor, "start_factor", 1 / 3, 0, 1, 3)
  self.end_factor = check.number(fname, 3, o.end_factor, "end_factor", 1, 0, 1, 3)
  if self.start_factor == 0 then
    check.error(fname .. ": starting multiplicative factor expected to be greater than 0 and less or equal to 1", 2)
  end
  self.total_iters = check.integer(fname, 4, o.total_iters, "total_iters", 5, 1, 3)
  self:setup(optimizer, o.last_epoch, 4)
end
--- The learning rates of this epoch, one per parameter group.
function M.LinearLR:get_lr()
  local t = math.min(self.last_epoch, self.total_iters) / self.total_iters
  return scaled(self, self.start_factor + (self.end_factor - self.start_factor) * t)
end

M.OneCycleLR = require "luann.optim.OneCycleLR"

return M
