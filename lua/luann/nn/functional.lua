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

-- ---- composite activations ---------------------------------------------------
-- Built from existing ops, so their backward comes from the parts and they run
-- on every backend. None takes exp of a large positive number, not even in a
-- part that is thrown away (clamped off, or where()'s other branch): that
-- part still gets a zero gradient, and 0 * inf is NaN.

-- log(1 + exp(-|x|)): the bounded half of softplus and logsigmoid.
local function log1p_exp_neg_abs(x) return x:abs():neg():exp():log1p() end

-- log(1 + exp(z)) = max(z, 0) + log(1 + exp(-|z|)), finite for every z.
-- maximum splits the gradient at the tie z = 0, giving the slope 1/2 there.
local function softplus1(z) return luann.maximum(z, 0) + log1p_exp_neg_abs(z) end

-- alpha (exp(x) - 1) for x <= 0, x above; the slope at 0 is alpha, as PyTorch.
local function elu(x, alpha)
  local neg = x:clamp(nil, 0):expm1()
  if alpha ~= 1 then neg = neg * alpha end
  return x:relu() + neg
end

--- x for x > 0, alpha (exp(x) - 1) otherwise.
-- @param x a tensor
-- @param alpha default 1
-- @return a tensor of x's shape
function F.elu(x, alpha)
  check.tensor("elu", 1, x, "input")
  return elu(x, check.number("elu", 2, alpha, "alpha", 1))
end

local SELU_ALPHA = 1.6732632423543772848170429916717
local SELU_SCALE = 1.0507009873554804934193349852946

--- scale * elu(x, alpha) with the self-normalising constants
-- alpha = 1.6732632423543772, scale = 1.0507009873554805.
function F.selu(x)
  check.tensor("selu", 1, x, "input")
  return elu(x, SELU_ALPHA) * SELU_SCALE
end

--- log(1 + exp(beta x)) / beta, computed without overflow; x itself where
-- beta x > threshold (PyTorch's linear region).
-- @param x a tensor
-- @param beta default 1
-- @param threshold default 20
-- @return a tensor of x's shape
function F.softplus(x, beta, threshold)
  check.tensor("softplus", 1, x, "input")
  beta = check.number("softplus", 2, beta, "beta", 1)
  threshold = check.number("softplus", 3, threshold, "threshold", 20)
  local z = beta == 1 and x or x * beta
  local y = softplus1(z)
  if beta ~= 1 then y = y / beta end
  return luann.where(z:gt(threshold), x, y)
end

--- x tanh(softplus(x)).
function F.mish(x)
  check.tensor("mish", 1, x, "input")
  return x * softplus1(x):tanh()
end

--- x clamped to [min_val, max_val]. The gradient passes at the bounds
-- themselves (clamp's rule; PyTorch's hardtanh stops it there).
-- @param x a tensor
-- @param min_val default -1
-- @param max_val default 1
-- @return a tensor of x's shape
function F.hardtanh(x, min_val, max_val)
  check.tensor("hardtanh", 1, x, "input")
  min_val = check.number("hardtanh", 2, min_val, "min_val", -1)
  max_val = check.number("hardtanh", 3, max_val, "max_val", 1)
  if min_val > max_val then
    check.error(("hardtanh: min_val (%s) is greater than max_val (%s)"):format(min_val, max_val), 2)
  end
  return x:clamp(min_val, max_val)
end

--- min(max(x, 0), 6): hardtanh(x, 0, 6).
function F.relu6(x)
  check.tensor("relu6", 1, x, "input")
  return x:clamp(0, 6)
end

--- x relu6(x + 3) / 6.
function F.hardswish(x)
  check.tensor("hardswish", 1, x, "input")
  return x * (x + 3):clamp(0, 6):div(6)
end

--- x for x > 0, weight * x otherwise, with a learned slope per channel.
-- @param x a tensor (N, C, ...); the channels are dim 2
-- @param weight a tensor of 1 element (shared) or C (one per channel)
-- @return a tensor of x's shape
function F.prelu(x, weight)
  check.tensor("prelu", 1, x, "input")
  check.tensor("prelu", 2, weight, "weight")
  if weight:dim() > 1 then
    check.error("prelu: weight must be a scalar or 1-D, got shape " .. check.shape_str(weight), 2)
  end
  local n, channels = weight:numel(), x:dim() >= 2 and x:size(2) or 1
  if n == 1 then
    weight = weight:reshape({})
  elseif n == channels then
    local shape = { n } -- (C, 1, ..., 1): broadcasts along dim 2
    for _ = 3, x:dim() do shape[#shape + 1] = 1 end
    weight = weight:reshape(shape)
  else
    check.error(("prelu: weight has %d elements, expected 1 or the input's %d channels (dim 2)")
      :format(n, channels), 2)
  end
  return luann.where(x:gt(0), x, x * weight)
end

--- log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), finite for every x.
function F.logsigmoid(x)
  check.tensor("logsigmoid", 1, x, "input")
  return luann.minimum(x, 0) - log1p_exp_neg_abs(x)
end

-- padding_idx checked against n rows and made positive (-1 is row n).
local function padding_row(fname, pos, p, n, level)
  p = check.integer(fname, pos, p, "padding_idx", nil, nil, level + 1)
  if p == 0 or p > n or p < -n then
    check.error(("%s: bad argument #%d 'padding_idx' (%d out of range [1, %d] or [-%d, -1])")
      :format(fname, pos, p, n, n), level + 1)
  end
  return p < 0 and p + n + 1 or p
end

--- Looks up rows of weight: the row input[i] for each element of input.
-- @param input an int64 tensor of 1-based row indices, any shape
-- @param weight the table (num_embeddings, embedding_dim)
-- @param padding_idx a row (1-based, or negative from the end) whose entries
--   get no gradient, or nil
-- @return a tensor input.shape .. (embedding_dim)
function F.embedding(input, weight, padding_idx)
  check.tensor("embedding", 1, input, "input")
  check.tensor("embedding", 2, weight, "weight")
  if input.dtype ~= "int64" then
    check.error("embedding: bad argument #1 'input' (int64 tensor of indices expected, got "
      .. input.dtype .. ")", 2)
  end
  if weight:dim() ~= 2 then
    check.error("embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
      .. check.shape_str(weight), 2)
  end
  if padding_idx ~= nil then padding_idx = padding_row("embedding", 3, padding_idx, weight:size(1), 2) end
  local shape = input.shape
  shape[#shape + 1] = weight:size(2)
  local out = weight:index_select(1, input:reshape(-1)):view(shape)
  if padding_idx ~= nil and out.requires_grad then
    -- the padding rows' values stay, from a detached copy that takes no gradient
    out = luann.where(input:ne(padding_idx):unsqueeze(-1), out, out:detach())
  end
  return out
end

--- Zeroes whole channels of x (N, C, H, W) or (C, H, W) with probability p
-- and scales the rest by 1/(1-p) while training; the identity otherwise.
-- @param x a tensor
-- @param p drop probability in [0, 1] (default 0.5)
-- @param training default true
-- @return a tensor of x's shape
function F.dropout2d(x, p, training)
  check.tensor("dropout2d", 1, x, "input")
  p = check.number("dropout2d", 2, p, "p", 0.5, 0, 1)
  training = check.boolean("dropout2d", 3, training, "training", true)
  local nd = x:dim()
  if nd ~= 3 and nd ~= 4 then
    check.error("dropout2d: expected a (N, C, H, W) or (C, H, W) input, got shape " .. check.shape_str(x), 2)
  end
  if not training or p == 0 then return x end
  if p == 1 then return x * 0 end
  local shape = x.shape -- one draw per channel: (N, C, 1, 1) or (C, 1, 1)
  shape[nd - 1], shape[nd] = 1, 1
  local mask = luann.empty(shape, { dtype = x.dtype, device = x.device }):bernoulli_(1 - p)
  return x * mask:mul_(1 / (1 - p))
end

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
for _, family in ipairs { "conv", "pool", "norm", "recurrent", "attention", "resize" } do
  require("luann.nn.fn." .. family)(F)
end

return F
