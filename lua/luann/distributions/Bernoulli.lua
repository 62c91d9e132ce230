--- distributions.Bernoulli: 1 with probability p, else 0, per batch entry.
-- @usage local d = Bernoulli({logits = scores})   -- or {probs = p}, or Bernoulli(p)
-- local x = d:sample()
-- local lp = d:log_prob(x)        -- differentiable in the logits
local luann = require "luann"
local check = require "luann.utils.check"
local Distribution = require "luann.distributions.Distribution"

local function is_float(t) return t.dtype == "float32" or t.dtype == "float64" end

local Bernoulli = Distribution:extend("Bernoulli")

local function softplus(x) return luann.nn.functional.softplus(x) end

--- @param args a tensor of probabilities, or {probs = p in [0, 1]} or
--   {logits = log(p / (1 - p))}
function Bernoulli:__init(args)
  local probs, logits
  if luann.is_tensor(args) then
    probs = args
  elseif type(args) == "table" then
    check.known_options("Bernoulli", args, { probs = true, logits = true }, 3)
    probs, logits = args.probs, args.logits
  else
    check.error("Bernoulli: bad argument #1 (a tensor of probabilities or {probs =} or {logits =} "
      .. "expected, got " .. type(args) .. ")", 2)
  end
  if (probs == nil) == (logits == nil) then check.error("Bernoulli: give exactly one of probs and logits", 2) end
  local t = check.tensor("Bernoulli", 1, probs or logits, probs and "probs" or "logits", 3)
  if not is_float(t) then
    check.error("Bernoulli: expected float " .. (probs and "probs" or "logits") .. ", got " .. t.dtype, 2)
  end
  if probs then
    local p = probs:detach()
    if p:isnan():any():item() or p:lt(0):any():item() or p:gt(1):any():item() then
      check.error("Bernoulli: probs must lie in [0, 1]", 2)
    end
    self.probs = probs
    -- logits clamped away from +-inf so that log_prob stays finite at p = 0 or 1
    local eps = probs.dtype == "float64" and 1e-15 or 1e-7
    local pc = probs:clamp(eps, 1 - eps)
    self.logits = pc:log() - (1 - pc):log()
  else
    self.logits = logits
    self.probs = logits:sigmoid()
  end
  self.batch_shape = t.shape
  self.mean = self.probs
end

--- Draws 0 or 1 (no history), in the probabilities' dtype.
function Bernoulli:sample(sample_shape, opts)
  local shape = self:extended_shape("Bernoulli.sample", sample_shape)
  local p = self.probs:detach():expand(shape)
  return luann.bernoulli(p, { generator = Distribution.generator_of("Bernoulli.sample", opts) })
end

--- value log p + (1 - value) log(1 - p), from the logits without overflow.
function Bernoulli:log_prob(value)
  check.tensor("Bernoulli.log_prob", 1, value, "value")
  value = value:to(self.logits.dtype)
  return -(value * softplus(-self.logits) + (1 - value) * softplus(self.logits))
end

--- -(p log p + (1 - p) log(1 - p))
function Bernoulli:entropy()
  return self.probs * softplus(-self.logits) + (1 - self.probs) * softplus(self.logits)
end

return Bernoulli
