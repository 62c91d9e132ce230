--- luann.distributions: probability distributions to sample from and score,
-- as torch.distributions. Everything differentiable is differentiable:
-- log_prob and entropy carry the parameters' history (policy gradients),
-- and Normal:rsample reparameterises (VAEs, SAC).
-- @usage local d = luann.distributions.Categorical({logits = policy(state)})
-- local action = d:sample()
-- local loss = -(d:log_prob(action) * advantage):mean()
return {
  Distribution = require "luann.distributions.Distribution",
  Categorical = require "luann.distributions.Categorical",
  Normal = require "luann.distributions.Normal",
  Bernoulli = require "luann.distributions.Bernoulli",
}
