--- nn.functional: the layers and losses as plain functions (PyTorch's F).
-- Dims are 1-based, class targets are int64 1-based. Loss options are a
-- table ({reduction = "sum", weight = w, ...}); a string alone is taken as
-- the reduction ("mean" by default, "sum" or "none"). The losses are
-- defined in luann.nn.losses, shared with the loss modules.
-- @usage local F = require "luann.nn.functional"
-- local loss = F.cross_entropy(logits, labels, {label_smoothing = 0.1})
local luann = require "luann"
local check = require "luann.utils.check"

local F = {}

--- y = x W^T + b.
-- @param x input (..., in)
-- @param weight (out, in)
-- @param bias (out) or nil
-- @return (..., out)
function F.linear(x, weight, bias)
  return luann.linear(x, weight, bias)
end

--- max(0, x).
function F.relu(x) check.tensor("relu", 1, x, "input") return luann.relu(x) end
--- x for x > 0, slope * x otherwise.
-- @param x a tensor
-- @param negative_slope default 0.01
function F.leaky_relu(x, negative_slope)
  check.tensor("leaky_relu", 1, x, "input")
  return luann.leaky_relu(x, check.number("leaky_relu", 2, negative_slope, "negative_slope", 0.01))
end
--- x * Phi(x), Phi the standard normal CDF.
function F.gelu(x) check.tensor("gelu", 1, x, "input") return luann.gelu(x) end
--- x * sigmoid(x).
function F.silu(x) check.tensor("silu", 1, x, "input") return luann.silu(x) end
--- 1 / (1 + exp(-x)).
function F.sigmoid(x) check.tensor("sigmoid", 1, x, "input") return luann.sigmoid(x) end
--- tanh(x).
function F.tanh(x) check.tensor("tanh", 1, x, "input") return luann.tanh(x) end

--- exp(x) / sum(exp(x)) along dim.
-- @param x a tensor
-- @param dim 1-based, default -1 (the last)
function F.softmax(x, dim)
  check.tensor("softmax", 1, x, "input")
  return luann.softmax(x, check.integer("softmax", 2, dim, "dim", -1))
end

--- x - logsumexp(x) along dim (default -1).
function F.log_softmax(x, dim)
  check.tensor("log_softmax", 1, x, "input")
  return luann.log_softmax(x, check.integer("log_softmax", 2, dim, "dim", -1))
end

--- Zeroes elements with probability p and scales the rest by 1/(1-p) while
-- training; the identity otherwise.
-- @param x a tensor
-- @param p drop probability in [0, 1] (default 0.5)
-- @param training default true
-- @return a tensor
function F.dropout(x, p, training)
  check.tensor("dropout", 1, x, "input")
  p = check.number("dropout", 2, p, "p", 0.5, 0, 1)
  if training == false or p == 0 then return x end
  if p == 1 then return x * 0 end
  local mask = luann.empty_like(x):bernoulli_(1 - p)
  return x * mask:mul_(1 / (1 - p))
end

--- One-hot encoding of 1-based class indices: (...) int64 -> (..., C) int64.
-- @param t an int64 tensor of classes in 1..num_classes
-- @param num_classes default -1: the largest class in t
function F.one_hot(t, num_classes)
  check.tensor("one_hot", 1, t, "tensor")
  return luann.one_hot(t, check.integer("one_hot", 2, num_classes, "num_classes", -1))
end

local losses = require "luann.nn.losses"

-- A loss from its definition in nn.losses: arguments and options checked,
-- then computed (a tail call, so errors point at the caller).
local function run(name, input, target, opts)
  local def = losses[name]
  check.tensor(name, 1, input, "input")
  check.tensor(name, 2, target, "target")
  local settings, red = losses.settings(name, opts, 2)
  return def.compute(input, target, settings, red)
end

--- Cross entropy between logits (N,C) or (C) and class indices (int64,
-- 1-based) or class probabilities (N,C), through the fused op.
-- @param input logits
-- @param target classes or probabilities
-- @param opts {weight = (C) tensor, ignore_index = class, label_smoothing = 0,
--   reduction = "mean"}
-- @return the loss
function F.cross_entropy(input, target, opts)
  return run("cross_entropy", input, target, opts)
end

--- Negative log likelihood of log-probabilities (N,C) for 1-based int64 targets.
-- @param opts {weight=, ignore_index=, reduction=}
function F.nll_loss(input, target, opts)
  return run("nll_loss", input, target, opts)
end

--- (input - target)^2, reduced.
-- @param opts {reduction=} or a reduction string
function F.mse_loss(input, target, opts)
  return run("mse_loss", input, target, opts)
end

--- |input - target|, reduced.
function F.l1_loss(input, target, opts)
  return run("l1_loss", input, target, opts)
end

--- 0.5 d^2 / beta where d = |input - target| < beta, d - 0.5 beta elsewhere.
-- @param opts {beta = 1, reduction=}
function F.smooth_l1_loss(input, target, opts)
  return run("smooth_l1_loss", input, target, opts)
end

--- -w (y log x + (1 - y) log(1 - x)), logs clamped at -100 like PyTorch.
-- @param input probabilities in [0, 1]
-- @param target same shape, in [0, 1]
-- @param opts {weight=, reduction=}
function F.binary_cross_entropy(input, target, opts)
  return run("binary_cross_entropy", input, target, opts)
end

--- Binary cross entropy on logits, in the stable form
-- (1 - y) x + lw (log(1 + exp(-|x|)) + max(-x, 0)), lw = 1 + (pos_weight - 1) y.
-- @param opts {weight=, pos_weight=, reduction=}
function F.binary_cross_entropy_with_logits(input, target, opts)
  return run("binary_cross_entropy_with_logits", input, target, opts)
end

-- The layers' families, one file each (luann/nn/fn/<family>.lua): each
-- returns a function that adds its functions to F.
for _, family in ipairs { "conv", "attention" } do
  require("luann.nn.fn." .. family)(F)
end

return F
