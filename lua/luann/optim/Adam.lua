--- optim.Adam: adaptive moments (Kingma & Ba), as PyTorch's:
--   g = grad + weight_decay * p         (L2; AdamW decays p directly)
--   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
--   p = p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
-- with amsgrad using the running max of v.
-- Settings: lr (1e-3), betas ({0.9, 0.999}), eps (1e-8), weight_decay (0),
-- amsgrad (false). State per parameter: step, exp_avg, exp_avg_sq
-- (and max_exp_avg_sq). Each step is one fused kernel call per parameter.
-- @usage local opt = optim.Adam(model:parameters(), {lr = 1e-3})
local luann = require "luann"
local check = require "luann.utils.check"
local Optimizer = require "luann.optim.Optimizer"

local Adam = Optimizer:extend("Adam")
Adam.defaults = { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, amsgrad = false }
Adam.decoupled = false

function Adam:validate(fname, g, level)
  Optimizer.validate(self, fname, g, level + 1)
  if type(g.eps) ~= "number" or g.eps < 0 then
    check.error(fname .. ": invalid epsilon value: " .. tostring(g.eps), level)
  end
  local b = g.betas
  if type(b) ~= "table" or #b ~= 2 then
    check.error(fname .. ": betas must be a table of two numbers {beta1, beta2}", level)
  end
  for i = 1, 2 do
    if type(b[i]) ~= "number" or b[i] < 0 or b[i] >= 1 then
      check.error(string.format("%s: invalid beta parameter at index %d: %s", fname, i, tostring(b[i])), level)
    end
  end
end

--- One Adam step on every parameter of the group, each through one fused kernel.
function Adam:update_group(group)
  local opts = { lr = group.lr, beta1 = group.betas[1], beta2 = group.betas[2], eps = group.eps,
    weight_decay = group.weight_decay, decoupled = self.decoupled, amsgrad = group.amsgrad == true }
  for _, p in ipairs(group.params) do
    local g = p.grad
    if g ~= nil then
      local st = self.state[p]
      if st == nil then
        st = { step = 0, exp_avg = luann.zeros_like(p), exp_avg_sq = luann.zeros_like(p) }
        self.state[p] = st
      end
      if opts.amsgrad and st.max_exp_avg_sq == nil then st.max_exp_avg_sq = luann.zeros_like(p) end
      st.step = st.step + 1
      opts.step = st.step
      luann._adam_step(p, g, st.exp_avg, st.exp_avg_sq, opts.amsgrad and st.max_exp_avg_sq or nil, opts)
    end
  end
end

return Adam
