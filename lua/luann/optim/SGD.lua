--- optim.SGD: stochastic gradient descent, with optional momentum (heavy
-- ball or Nesterov) and L2 weight decay, as PyTorch's:
--   g = grad + weight_decay * p
--   buf = momentum * buf + (1 - dampening) * g   (buf = g on the first step)
--   g = nesterov and g + momentum * buf or buf    (when momentum ~= 0)
--   p = p - lr * g
-- Settings: lr (1e-3), momentum (0), dampening (0), weight_decay (0),
-- nesterov (false). Each step is one fused kernel call per parameter.
-- @usage local opt = optim.SGD(model:parameters(), {lr = 0.01, momentum = 0.9})
-- opt:zero_grad(); loss:backward(); opt:step()
local luann = require "luann"
local check = require "luann.utils.check"
local Optimizer = require "luann.optim.Optimizer"

local SGD = Optimizer:extend("SGD")
SGD.defaults = { lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false }

function SGD:validate(fname, g, level)
  Optimizer.validate(self, fname, g, level + 1)
  if type(g.momentum) ~= "number" or g.momentum < 0 then
    check.error(fname .. ": invalid momentum value: " .. tostring(g.momentum), level)
  end
  if type(g.dampening) ~= "number" then
    check.error(fname .. ": invalid dampening value: " .. tostring(g.dampening), level)
  end
  if g.nesterov and (g.momentum <= 0 or g.dampening ~= 0) then
    check.error(fname .. ": Nesterov momentum requires a momentum and zero dampening", level)
  end
end

--- One SGD step on every parameter of the group, each through one fused kernel.
function SGD:update_group(group)
  local opts = { lr = group.lr, momentum = group.momentum, dampening = group.dampening,
    weight_decay = group.weight_decay, nesterov = group.nesterov == true, first_step = false }
  for _, p in ipairs(group.params) do
    local g = p.grad
    if g ~= nil then
      local buf
      if group.momentum ~= 0 then
        local st = self.state[p]
        if st == nil then
          st = {}
          self.state[p] = st
        end
        opts.first_step = st.momentum_buffer == nil
        if opts.first_step then st.momentum_buffer = luann.zeros_like(p) end
        buf = st.momentum_buffer
      end
      luann._sgd_step(p, g, buf, opts)
    end
  end
end

return SGD
