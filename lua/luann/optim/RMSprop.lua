--- optim.RMSprop: divides the gradient by a running RMS of past gradients
-- (Hinton), as PyTorch's:
--   g = grad + weight_decay * p
--   v = alpha v + (1 - alpha) g^2
--   avg = sqrt(v - gavg^2) + eps when centered (gavg the running mean of g), else sqrt(v) + eps
--   with momentum: buf = momentum buf + g / avg; p = p - lr buf
--   otherwise:     p = p - lr g / avg
-- Settings: lr (1e-2), alpha (0.99), eps (1e-8), weight_decay (0),
-- momentum (0), centered (false).
-- @usage local opt = optim.RMSprop(model:parameters(), {lr = 1e-3})
local luann = require "luann"
local check = require "luann.utils.check"
local Optimizer = require "luann.optim.Optimizer"

local RMSprop = Optimizer:extend("RMSprop")
RMSprop.defaults = { lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0, centered = false }

function RMSprop:validate(fname, g, level)
  Optimizer.validate(self, fname, g, level + 1)
  if type(g.eps) ~= "number" or g.eps < 0 then
    check.error(fname .. ": invalid epsilon value: " .. tostring(g.eps), level)
  end
  if type(g.momentum) ~= "number" or g.momentum < 0 then
    check.error(fname .. ": invalid momentum value: " .. tostring(g.momentum), level)
  end
  if type(g.alpha) ~= "number" or g.alpha < 0 then
    check.error(fname .. ": invalid alpha value: " .. tostring(g.alpha), level)
  end
end

--- One RMSprop step on every parameter of the group, each through one fused kernel.
function RMSprop:update_group(group)
  local opts = { lr = group.lr, alpha = group.alpha, eps = group.eps, weight_decay = group.weight_decay,
    momentum = group.momentum, centered = group.centered == true }
  for _, p in ipairs(group.params) do
    local g = p.grad
    if g ~= nil then
      local st = self.state[p]
      if st == nil then
        st = { step = 0, square_avg = luann.zeros_like(p) }
        self.state[p] = st
      end
      if opts.momentum > 0 and st.momentum_buffer == nil then st.momentum_buffer = luann.zeros_like(p) end
      if opts.centered and st.grad_avg == nil then st.grad_avg = luann.zeros_like(p) end
      st.step = st.step + 1
      luann._rmsprop_step(p, g, st.square_avg, opts.momentum > 0 and st.momentum_buffer or nil,
        opts.centered and st.grad_avg or nil, opts)
    end
  end
end

return RMSprop
