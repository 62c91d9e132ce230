--- distributions.Categorical: one of K categories (1-based, as every luann
-- index) per batch entry, from probabilities or logits over the last dim.
-- @usage local d = Categorical({logits = scores})   -- or {probs = p}, or Categorical(p)
-- local a = d:sample()            -- batch shape, int64 in 1..K
-- local lp = d:log_prob(a)        -- differentiable in the logits
local luann = require "luann"
local check = require "luann.utils.check"
local Distribution = require "luann.distributions.Distribution"

local Categorical = Distribution:extend("Categorical")

local function params(args)
  if luann.is_tensor(args) then return args, nil end
  if type(args) ~= "table" then
    check.error("Categorical: bad argument #1 (a tensor of probabilities or {probs =} or {logits =} "
      .. "expected, got " .. type(args) .. ")", 2)
  end
  check.known_options("Categorical", args, { probs = true, logits = true }, 4)
  if (args.probs == nil) == (args.logits == nil) then
    check.error("Categorical: give exactly one of probs and logits", 2)
  end
  return args.probs, args.logits
end

--- @param args a tensor of probabilities, or {probs = (..., K)} (weights,
--   normalised over the last dim) or {logits = (..., K)} (unnormalised log
--   probabilities)
function Categorical:__init(args)
  local probs, logits = params(args)
  local t = check.tensor("Categorical", 1, probs or logits, probs and "probs" or "logits", 3)
  if t:dim() < 1 or t:size(-1) < 1 or (t.dtype ~= "float32" and t.dtype ~= "float64") then
    check.error(string.format("Categorical: expected float (..., K) %s with K >= 1, got shape %s and dtype %s",
      probs and "probs" or "logits", check.shape_str(t), t.dtype), 2)
  end
  if probs then
    local p = probs:detach()
    if p:isnan():any():item() or p:lt(0):any():item() or p:sum(-1):le(0):any():item() then
      check.error("Categorical: probs must be non-negative with a positive sum over the last dim", 2)
    end
    self.probs = probs / probs:sum(-1, true)
    self.logits = self.probs:log()
  else
    self.logits = logits - logits:logsumexp(-1, true)
    self.probs = self.logits:exp()
  end
  self.num_events = t:size(-1)
  local shape = t.shape
  shape[#shape] = nil
  self.batch_shape = shape
end

--- Draws category indices (no history).
-- @param sample_shape nil, a count or a list of sizes put in front of the batch shape
-- @param opts {generator = nil}
-- @return int64 of sample_shape .. batch_shape
function Categorical:sample(sample_shape, opts)
  local shape = self:extended_shape("Categorical.sample", sample_shape)
  local n = 1
  for i = 1, #shape - #self.batch_shape do n = n * shape[i] end
  local p = self.probs:detach():reshape(-1, self.num_events)
  if n == 0 or p:size(1) == 0 then
    return luann.zeros(shape, { dtype = "int64", device = p.device })
  end
  local draws = luann.multinomial(p, n, { replacement = true, generator = Distribution.generator_of("Categorical.sample", opts) })
  return draws:t():contiguous():reshape(shape)
end

--- log P(value): differentiable in the probabilities or logits.
-- @param value int64 indices in 1..K, broadcastable to the batch shape
function Categorical:log_prob(value)
  check.tensor("Categorical.log_prob", 1, value, "value")
  if value.dtype ~= "int64" then
    check.error("Categorical.log_prob: value must be int64 category indices, got " .. value.dtype, 2)
  end
  local k = self.num_events
  if value:numel() > 0 and (value:min():item() < 1 or value:max():item() > k) then
    check.error(string.format("Categorical.log_prob: values must lie in 1..%d", k), 2)
  end
  local shape = Distribution.broadcast_shapes(value.shape, self.batch_shape)
  if not shape then
    check.error(string.format("Categorical.log_prob: value of shape %s does not broadcast with the batch shape (%s)",
      check.shape_str(value), table.concat(self.batch_shape, ",")), 2)
  end
  local full = {}
  for i, s in ipairs(shape) do full[i] = s end
  full[#full + 1] = k
  local logits = self.logits:expand(full)
  local index = value:expand(shape):unsqueeze(-1)
  return logits:gather(-1, index):squeeze(-1)
end

--- -sum p log p over the categories (0 log 0 counts as 0).
function Categorical:entropy()
  local lowest = self.logits.dtype == "float64" and -1.79e308 or -3.4e38
  return -(self.probs * self.logits:clamp(lowest, math.huge)):sum(-1)
end

return Categorical
