--- nn.Loss: the base of the loss modules. A loss is made with an options
-- table, checked once ({reduction = "mean"|"sum"|"none", ...}); calling it
-- with (input, target) computes the matching loss of luann.nn.losses (the
-- same code as nn.functional's). `weight` and `pos_weight` options are
-- registered as buffers, so they move with model:to().
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local losses = require "luann.nn.losses"

local Loss = Module:extend("Loss")

--- Subclasses set `fn` (a name in luann.nn.losses) and optionally
-- `positional` (the option a bare number stands for).
-- @param opts the options table (may be nil)
function Loss:__init(opts)
  local fname = "nn." .. getmetatable(self).__name
  if type(opts) == "number" and self.positional then opts = { [self.positional] = opts } end
  if type(opts) == "string" then
    check.error(fname .. ": bad argument #1 (options table expected, got string)", 2)
  end
  local settings, red = losses.settings(self.fn, opts, 3, fname, 1)
  self.reduction = red
  self.settings = settings
  for _, k in ipairs({ "weight", "pos_weight" }) do
    if settings[k] ~= nil then self:register_buffer(k, settings[k]) end
  end
  self.compute = losses[self.fn].compute
end

--- @param input the prediction
-- @param target the target
-- @return the loss (a 0-dim tensor unless reduction is "none")
function Loss:forward(input, target)
  local name = self.fn
  check.tensor(name, 1, input, "input")
  check.tensor(name, 2, target, "target")
  local s = self.settings
  if s.weight ~= nil then s.weight = self.weight end
  if s.pos_weight ~= nil then s.pos_weight = self.pos_weight end
  return self.compute(input, target, s, self.reduction)
end

function Loss:extra_repr()
  return self.reduction ~= "mean" and "reduction=" .. self.reduction or ""
end

return Loss
