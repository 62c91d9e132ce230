--- nn.losses: the loss computations shared by nn.functional and the loss
-- modules. Each entry has `known` (its option names), `settings(fname, o,
-- level)` (checks the options once, returning what compute needs) and
-- `compute(input, target, settings, reduction)`. Modules check settings
-- when made, so a training step only computes.
local luann = require "luann"
local check = require "luann.utils.check"

local losses = {}

local REDUCTIONS = { "mean", "sum", "none" }

--- Checks the options of loss `name` (a table, or a bare reduction string).
-- @param name a key of this table
-- @param opts the options
-- @param level where errors point, as error() would count it in the caller
-- @param fname the name for messages (default name)
-- @param pos the options' argument position for messages (default 3)
-- @return the settings, the reduction
function losses.settings(name, opts, level, fname, pos)
  local def = losses[name]
  fname, pos = fname or name, pos or 3
  if type(opts) == "string" then opts = { reduction = opts } end
  opts = check.options(fname, pos, opts, level + 1)
  check.known_options(fname, opts, def.known, level + 1)
  local red = check.choice(fname, pos, opts.reduction, "reduction", "mean", REDUCTIONS, level + 1)
  return def.settings(fname, opts, level + 2, pos), red
end

local function reduce(loss, reduction)
  if reduction == "mean" then return loss:mean() end
  if reduction == "sum" then return loss:sum() end
  return loss
end

-- weight and ignore_index, as the class losses take them.
local function class_settings(fname, o, level, pos)
  return {
    weight = check.opt_tensor(fname, pos, o.weight, "weight", level),
    ignore_index = o.ignore_index ~= nil
      and check.integer(fname, pos, o.ignore_index, "ignore_index", nil, nil, level) or nil,
    label_smoothing = o.label_smoothing ~= nil
      and check.number(fname, pos, o.label_smoothing, "label_smoothing", 0, 0, 1, level) or 0,
  }
end

local function no_settings() return {} end

-- Elementwise losses take equal shapes: broadcasting a (4,1) input against
-- a (4) target would silently average a 4x4 grid of differences.
local function same_shape(fname, input, target)
  if not check.same_shape(input, target) then
    check.error(string.format("%s: target shape %s must match input shape %s", fname,
      check.shape_str(target), check.shape_str(input)), 3)
  end
end

losses.cross_entropy = {
  known = { weight = true, ignore_index = true, label_smoothing = true, reduction = true },
  settings = class_settings,
  compute = function(input, target, s, red)
    return luann._cross_entropy(input, target, s.weight, s.ignore_index, s.label_smoothing, red)
  end,
}

losses.nll_loss = {
  known = { weight = true, ignore_index = true, reduction = true },
  settings = class_settings,
  compute = function(input, target, s, red)
    return luann._nll_loss(input, target, s.weight, s.ignore_index, red)
  end,
}

-- (x - y)^2
losses.mse_loss = {
  known = { reduction = true },
  settings = no_settings,
  compute = function(input, target, _, red)
    same_shape("mse_loss", input, target)
    local d = input - target
    return reduce(d * d, red)
  end,
}

-- |x - y|
losses.l1_loss = {
  known = { reduction = true },
  settings = no_settings,
  compute = function(input, target, _, red)
    same_shape("l1_loss", input, target)
    return reduce(luann.abs(input - target), red)
  end,
}

-- 0.5 d^2 / beta for d = |x - y| < beta, d - 0.5 beta elsewhere
losses.smooth_l1_loss = {
  known = { beta = true, reduction = true },
  settings = function(fname, o, level, pos)
    return { beta = check.number(fname, pos, o.beta, "beta", 1, 0, nil, level) }
  end,
  compute = function(input, target, s, red)
    same_shape("smooth_l1_loss", input, target)
    local d = luann.abs(input - target)
    if s.beta == 0 then return reduce(d, red) end
    -- m = min(d, beta): the quadratic part grows to beta, the rest is linear
    local m = luann.clamp(d, -math.huge, s.beta)
    return reduce(m * m * (0.5 / s.beta) + (d - m), red)
  end,
}

-- -(y log x + (1 - y) log(1 - x)), each log clamped at -100, with
-- PyTorch's analytic backward: d/dx = (x - y) / max(x (1 - x), 1e-12). The
-- chain rule through the clamped logs would give 0 * inf = nan at x = 0 or
-- 1, where a saturated sigmoid puts it.
local BinaryCrossEntropy = require("luann.autograd").Function {
  name = "BinaryCrossEntropyBackward",
  forward = function(ctx, x, y)
    local logx = luann.clamp(luann.log(x), -100, math.huge)
    local log1mx = luann.clamp(luann.log(1 - x), -100, math.huge)
    ctx.x, ctx.y, ctx.logit = x, y, logx - log1mx
    return -(y * logx + (1 - y) * log1mx)
  end,
  backward = function(ctx, g)
    local x, y = ctx.x, ctx.y
    local gx = g * (x - y) / luann.clamp(x * (1 - x), 1e-12, math.huge)
    return gx, -g * ctx.logit
  end,
}

-- -w (y log x + (1 - y) log(1 - x)), each log clamped at -100
losses.binary_cross_entropy = {
  known = { weight = true, reduction = true },
  settings = function(fname, o, level, pos)
    return { weight = check.opt_tensor(fname, pos, o.weight, "weight", level) }
  end,
  compute = function(input, target, s, red)
    same_shape("binary_cross_entropy", input, target)
    if input:numel() > 0 and (input:min():item() < 0 or input:max():item() > 1) then
      check.error("binary_cross_entropy: all elements of input should be between 0 and 1", 2)
    end
    local loss = BinaryCrossEntropy(input, target)
    if s.weight then loss = loss * s.weight end
    return reduce(loss, red)
  end,
}

-- (1 - y) x + lw (log(1 + exp(-|x|)) + max(-x, 0)), lw = 1 + (pos_weight - 1) y
losses.binary_cross_entropy_with_logits = {
  known = { weight = true, pos_weight = true, reduction = true },
  settings = function(fname, o, level, pos)
    return { weight = check.opt_tensor(fname, pos, o.weight, "weight", level),
      pos_weight = check.opt_tensor(fname, pos, o.pos_weight, "pos_weight", level) }
  end,
  compute = function(input, target, s, red)
    same_shape("binary_cross_entropy_with_logits", input, target)
    local soft = luann.log1p(luann.exp(-luann.abs(input))) + luann.relu(-input)
    local loss
    if s.pos_weight then
      loss = (1 - target) * input + ((s.pos_weight - 1) * target + 1) * soft
    else
      loss = (1 - target) * input + soft
    end
    if s.weight then loss = loss * s.weight end
    return reduce(loss, red)
  end,
}

return losses
