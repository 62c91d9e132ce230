--- optim.lr_scheduler.OneCycleLR: the 1cycle policy (Smith & Topin), stepped
-- once per batch. The lr rises from max_lr/div_factor to max_lr over the
-- first pct_start of the steps, then falls to initial_lr/final_div_factor
-- (three_phase: back to the initial lr first, then down); the momentum (or
-- Adam's beta1) moves the opposite way between max_momentum and
-- base_momentum. Phases and annealing follow PyTorch's implementation.
-- Settings: max_lr (a number or one per group), total_steps or (epochs and
-- steps_per_epoch), pct_start (0.3), anneal_strategy ("cos" or "linear"),
-- cycle_momentum (true), base_momentum (0.85), max_momentum (0.95),
-- div_factor (25), final_div_factor (1e4), three_phase (false), last_epoch (-1).
-- @usage local sched = optim.OneCycleLR(opt, {max_lr = 0.1, total_steps = 1000})
-- ... after each optimizer step: sched:step()
local check = require "luann.utils.check"
local LRScheduler = require "luann.optim.LRScheduler"

local OneCycleLR = LRScheduler:extend("OneCycleLR")
local FNAME = "lr_scheduler.OneCycleLR"
local OPTIONS = { max_lr = true, total_steps = true, epochs = true, steps_per_epoch = true,
  pct_start = true, anneal_strategy = true, cycle_momentum = true, base_momentum = true,
  max_momentum = true, div_factor = true, final_div_factor = true, three_phase = true,
  last_epoch = true }

-- A per-group list from a number or a list (PyTorch's _format_param).
local function per_group(name, value, n)
  if type(value) == "table" then
    if #value ~= n then
      check.error(string.format("%s: expected %d values for %s, got %d", FNAME, n, name, #value), 2)
    end
    return value
  end
  check.number(FNAME, 2, value, name, nil, nil, nil, 4)
  local out = {}
  for i = 1, n do out[i] = value end
  return out
end

local function total_steps(o)
  if o.total_steps ~= nil then
    return check.integer(FNAME, 2, o.total_steps, "total_steps", nil, 1, 4)
  end
  if o.epochs == nil or o.steps_per_epoch == nil then
    check.error(FNAME .. ": you must define either total_steps OR (epochs AND steps_per_epoch)", 2)
  end
  return check.integer(FNAME, 2, o.epochs, "epochs", nil, 1, 4)
    * check.integer(FNAME, 2, o.steps_per_epoch, "steps_per_epoch", nil, 1, 4)
end

--- @param optimizer the optimizer
-- @param max_lr the peak lr (a number or a list per group), or the options table
-- @param opts the other settings when max_lr is given alone
function OneCycleLR:__init(optimizer, max_lr, opts)
  local o = opts or {}
  if type(max_lr) == "table" and max_lr.max_lr ~= nil then o = max_lr else o.max_lr = max_lr end
  check.known_options(FNAME, o, OPTIONS, 3)
  local groups = type(optimizer) == "table" and optimizer.param_groups or {}
  self.total_steps = total_steps(o)
  local pct = check.number(FNAME, 2, o.pct_start, "pct_start", 0.3, 0, 1, 3)
  self.anneal_strategy = check.choice(FNAME, 2, o.anneal_strategy, "anneal_strategy", "cos", { "cos", "linear" }, 3)
  local div = check.number(FNAME, 2, o.div_factor, "div_factor", 25, nil, nil, 3)
  local final_div = check.number(FNAME, 2, o.final_div_factor, "final_div_factor", 1e4, nil, nil, 3)
  local T = self.total_steps
  if o.three_phase then
    self.phases = {
      { pct * T - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum" },
      { 2 * pct * T - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum" },
      { T - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum" } }
  else
    self.phases = {
      { pct * T - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum" },
      { T - 1, "max_lr", "min_lr", "base_momentum", "max_momentum" } }
  end
  local last_epoch = o.last_epoch or -1
  local max_lrs = per_group("max_lr", o.max_lr, #groups)
  if last_epoch == -1 then
    for i, group in ipairs(groups) do
      group.initial_lr = max_lrs[i] / div
      group.max_lr = max_lrs[i]
      group.min_lr = group.initial_lr / final_div
    end
  end
  self.cycle_momentum = o.cycle_momentum ~= false
  if self.cycle_momentum then self:init_momentum(optimizer, o, groups, last_epoch) end
  self:setup(optimizer, last_epoch, 4)
end

--- Momentum cycling needs SGD's momentum or Adam's betas.
function OneCycleLR:init_momentum(optimizer, o, groups, last_epoch)
  local defaults = optimizer.defaults or {}
  if defaults.momentum == nil and defaults.betas == nil then
    check.error(FNAME .. ": optimizer must support momentum or beta1 with the `cycle_momentum` option enabled", 2)
  end
  self.use_beta1 = defaults.betas ~= nil
  local maxm = per_group("max_momentum", o.max_momentum == nil and 0.95 or o.max_momentum, #groups)
  local basem = per_group("base_momentum", o.base_momentum == nil and 0.85 or o.base_momentum, #groups)
  if last_epoch == -1 then
    for i, group in ipairs(groups) do
      if self.use_beta1 then group.betas = { maxm[i], group.betas[2] } else group.momentum = maxm[i] end
      group.max_momentum, group.base_momentum = maxm[i], basem[i]
    end
  end
end

-- cos: end + (start - end) (1 + cos(pi pct)) / 2; linear: start + (end - start) pct.
local function anneal(strategy, from, to, pct)
  if strategy == "cos" then return to + (from - to) / 2 * (math.cos(math.pi * pct) + 1) end
  return (to - from) * pct + from
end

--- The learning rates of this step, one per parameter group (and the
-- momentum, when cycled, is set on the groups).
function OneCycleLR:get_lr()
  local step = self.last_epoch
  if step > self.total_steps then
    check.error(string.format("%s: tried to step %d times. The specified number of total steps is %d",
      FNAME, step, self.total_steps), 2)
  end
  local lrs = {}
  for gi, group in ipairs(self.optimizer.param_groups) do
    local start = 0
    for i, ph in ipairs(self.phases) do
      if step <= ph[1] or i == #self.phases then
        local pct = (step - start) / (ph[1] - start)
        lrs[gi] = anneal(self.anneal_strategy, group[ph[2]], group[ph[3]], pct)
        if self.cycle_momentum then
          local m = anneal(self.anneal_strategy, group[ph[4]], group[ph[5]], pct)
          if self.use_beta1 then group.betas = { m, group.betas[2] } else group.momentum = m end
        end
        break
      end
      start = ph[1]
    end
  end
  return lrs
end

return OneCycleLR
