--- optim.LRScheduler: the base of the learning-rate schedulers (see
-- optim.lr_scheduler). A scheduler's constructor reads its settings, then
-- calls self:setup(optimizer, last_epoch); get_lr() gives each group's lr
-- for self.last_epoch.
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local Optimizer = require "luann.optim.Optimizer"

local LRScheduler = class.new("LRScheduler")
LRScheduler.__self_name = "scheduler" -- for the hint of a '.' call: scheduler:method()
--- Options given as one table or positionally, by name order (for the
-- constructors). names.list_first: a first argument that is a list is a
-- value, not the options table. A table's keys must be among the names.
-- @param fname the constructor's name for messages
function LRScheduler.args(fname, first, names, ...)
  if type(first) == "table" and #names > 0 and not (names.list_first and first[1] ~= nil) then
    local known = {}
    for _, n in ipairs(names) do known[n] = true end
    check.known_options(fname, first, known, 4)
    return first
  end
  local out, rest = {}, { first, ... }
  for i, n in ipairs(names) do out[n] = rest[i] end
  return out
end

--- Common setup, called by each scheduler's constructor after reading its settings.
-- @param optimizer an optim.Optimizer
-- @param last_epoch -1 (default) to start; the index of the last step when resuming
function LRScheduler:setup(optimizer, last_epoch, level)
  local fname = "lr_scheduler." .. class.typename(self)
  if not class.isinstance(optimizer, Optimizer) then
    check.error(fname .. ": bad argument #1 (optimizer expected, got " .. class.typename(optimizer) .. ")", level)
  end
  last_epoch = check.integer(fname, 1, last_epoch, "last_epoch", -1, -1, level)
  self.optimizer = optimizer
  for i, group in ipairs(optimizer.param_groups) do
    if last_epoch == -1 then
      if group.initial_lr == nil then group.initial_lr = group.lr end
    elseif group.initial_lr == nil then
      check.error(string.format("%s: param 'initial_lr' is not specified in param_groups[%d] "
        .. "when resuming an optimizer", fname, i), level)
    end
  end
  self.base_lrs = {}
  for i, group in ipairs(optimizer.param_groups) do self.base_lrs[i] = group.initial_lr end
  self.last_epoch = last_epoch
  self:step()
end

--- Advances one step and sets the groups' learning rates.
function LRScheduler:step()
  self.last_epoch = self.last_epoch + 1
  local lrs = self:get_lr()
  for i, group in ipairs(self.optimizer.param_groups) do group.lr = lrs[i] end
  self._last_lr = lrs
end

--- The learning rates set by the last step, one per group.
-- @return a list of numbers
function LRScheduler:get_last_lr()
  return table.move(self._last_lr, 1, #self._last_lr, 1, {})
end

--- The schedule's settings and position (everything but the optimizer).
-- @return a table
function LRScheduler:state_dict()
  local sd = {}
  for k, v in pairs(self) do
    if k ~= "optimizer" then sd[k] = type(v) == "table" and table.move(v, 1, #v, 1, {}) or v end
  end
  return sd
end

--- Restores what state_dict returned.
-- @param sd a table
function LRScheduler:load_state_dict(sd)
  if type(sd) ~= "table" then
    check.error("load_state_dict: bad argument #1 (table expected, got " .. class.typename(sd) .. ")", 2)
  end
  for k, v in pairs(sd) do
    if k ~= "optimizer" then self[k] = type(v) == "table" and table.move(v, 1, #v, 1, {}) or v end
  end
end

return LRScheduler
