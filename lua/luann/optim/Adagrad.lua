--- optim.Adagrad: per-element learning rates shrinking with the sum of
-- squared gradients (Duchi et al.), as PyTorch's:
--   g = grad + weight_decay * p
--   clr = lr / (1 + (t - 1) * lr_decay)
--   sum = sum + g^2;  p = p - clr * g / (sqrt(sum) + eps)
-- Settings: lr (1e-2), lr_decay (0), weight_decay (0),
-- initial_accumulator_value (0), eps (1e-10).
-- @usage local opt = optim.Adagrad(model:parameters(), {lr = 0.1})
local luann = require "luann"
local check = require "luann.utils.check"
local Optimizer = require "luann.optim.Optimizer"

local Adagrad = Optimizer:extend("Adagrad")
Adagrad.defaults = { lr = 1e-2, lr_decay = 0, weight_decay = 0, initial_accumulator_value = 0, eps = 1e-10 }

function Adagrad:validate(fname, g, level)
  Optimizer.validate(self, fname, g, level + 1)
  if type(g.lr_decay) ~= "number" or g.lr_decay < 0 then
    check.error(fname .. ": invalid lr_decay value: " .. tostring(g.lr_decay), level)
  end
  if type(g.initial_accumulator_value) ~= "number" or g.initial_accumulator_value < 0 then
    check.error(fname .. ": invalid initial_accumulator_value value: " .. tostring(g.initial_accumulator_value), level)
  end
  if type(g.eps) ~= "number" or g.eps < 0 then
    check.error(fname .. ": invalid epsilon value: " .. tostring(g.eps), level)
  end
end

--- One Adagrad step on every parameter of the group, each through one fused kernel.
function Adagrad:update_group(group)
  local opts = { lr = group.lr, lr_decay = group.lr_decay, weight_decay = group.weight_decay,
    eps = group.eps, initial_accumulator_value = group.initial_accumulator_value }
  for _, p in ipairs(group.params) do
    local g = p.grad
    if g ~= nil then
      local st = self.state[p]
      if st == nil then
        st = { step = 0, sum = luann.full_like(p, group.initial_accumulator_value) }
        self.state[p] = st
      end
      st.step = st.step + 1
      opts.step = st.step
      luann._adagrad_step(p, g, st.sum, opts)
    end
  end
end

return Adagrad
