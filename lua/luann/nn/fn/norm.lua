--- Normalisation for nn.functional, composed from the core's reductions
-- and pointwise ops (the backward comes from the parts, on every backend).
-- Options by position (PyTorch's order) or by name in a trailing table.
-- @usage F.batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5)
-- F.group_norm(x, 2, w, b, {eps = 1e-6})
local luann = require "luann"
local check = require "luann.utils.check"

local shape_str = check.shape_str

-- (1, C, 1, ...) for a per-channel vector against x.
local function channel_shape(x)
  local s = { 1, x:size(2) }
  for i = 3, x:dim() do s[i] = 1 end
  return s
end

-- Raises unless t (when given) is a (C) vector for x's C channels.
local function check_channels(fname, pos, t, name, x)
  check.opt_tensor(fname, pos, t, name, 3)
  if t ~= nil and (t:dim() ~= 1 or t:size(1) ~= x:size(2)) then
    check.error(string.format("%s: %s has shape %s, expected (%d) for the channels of input %s",
      fname, name, shape_str(t), x:size(2), shape_str(x)), 2)
  end
end

-- y * weight + bias, each (C) and optional, broadcast over x's channels.
local function affine(y, weight, bias, shape)
  if weight ~= nil then y = y * weight:view(table.unpack(shape)) end
  if bias ~= nil then y = y + bias:view(table.unpack(shape)) end
  return y
end

local BN = { "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps" }
local GN = { "num_groups", "weight", "bias", "eps" }

return function(F)
  --- Batch normalisation over (N, C), (N, C, L) or (N, C, H, W):
  -- y = (x - mean) / sqrt(var + eps) * weight + bias per channel. Training
  -- uses the batch's mean and biased variance and, when running stats are
  -- given, updates them in place (no grad): r = (1 - momentum) r + momentum
  -- s, with the unbiased variance for running_var. Eval uses the running stats.
  -- @param input a tensor (N, C, ...)
  -- @param running_mean (C) or nil; running_var (C) or nil; weight, bias (C) or nil
  -- @param training default false; momentum default 0.1; eps default 1e-5
  -- @return a tensor of input's shape
  function F.batch_norm(input, ...)
    local fname = "batch_norm"
    local a = check.args(fname, BN, select("#", ...), ...)
    check.tensor(fname, 1, input, "input", 2)
    if input:dim() < 2 or input:dim() > 4 then
      check.error(string.format("%s: expected a 2-d, 3-d or 4-d input (N, C, ...), got %s",
        fname, shape_str(input)), 2)
    end
    local rm, rv = a.running_mean, a.running_var
    check_channels(fname, 2, rm, "running_mean", input)
    check_channels(fname, 3, rv, "running_var", input)
    check_channels(fname, 4, a.weight, "weight", input)
    check_channels(fname, 5, a.bias, "bias", input)
    local training = check.boolean(fname, 6, a.training, "training", false, 2)
    local momentum = check.number(fname, 7, a.momentum, "momentum", 0.1, nil, nil, 2)
    local eps = check.number(fname, 8, a.eps, "eps", 1e-5, 0, nil, 2)
    local shape = channel_shape(input)
    local y
    if training then
      local dims, n = { 1 }, input:numel() // input:size(2)
      for i = 3, input:dim() do dims[#dims + 1] = i end
      if n <= 1 then
        check.error(string.format("%s: expected more than 1 value per channel when training, got input %s",
          fname, shape_str(input)), 2)
      end
      local mean = input:mean(dims, true)
      local diff = input - mean
      local var = (diff * diff):mean(dims, true)
      y = diff / (var + eps):sqrt()
      local guard <close> = luann.no_grad()
      if rm ~= nil then rm:mul_(1 - momentum):add_(mean:detach():view(-1) * momentum) end
      if rv ~= nil then
        rv:mul_(1 - momentum):add_(var:detach():view(-1) * (momentum * n / (n - 1)))
      end
    else
      if rm == nil or rv == nil then
        check.error(fname .. ": running_mean and running_var are required when not training", 2)
      end
      y = (input - rm:view(table.unpack(shape))) / (rv:view(table.unpack(shape)) + eps):sqrt()
    end
    return affine(y, a.weight, a.bias, shape)
  end

  --- Group normalisation: the C channels of (N, C, ...) in num_groups
  -- groups, each normalised over its channels and positions with the biased
  -- variance, then weight and bias (C) per channel.
  -- @param input a tensor (N, C, ...)
  -- @param num_groups dividing C; weight, bias (C) or nil; eps default 1e-5
  function F.group_norm(input, ...)
    local fname = "group_norm"
    local a = check.args(fname, GN, select("#", ...), ...)
    check.tensor(fname, 1, input, "input", 2)
    if input:dim() < 2 then
      check.error(string.format("%s: expected an input (N, C, ...), got %s", fname,
        shape_str(input)), 2)
    end
    local groups = check.integer(fname, 2, a.num_groups, "num_groups", nil, 1, 2)
    local C = input:size(2)
    if C % groups ~= 0 then
      check.error(string.format("%s: num_groups %d does not divide the %d channels of input %s",
        fname, groups, C, shape_str(input)), 2)
    end
    check_channels(fname, 3, a.weight, "weight", input)
    check_channels(fname, 4, a.bias, "bias", input)
    local eps = check.number(fname, 5, a.eps, "eps", 1e-5, 0, nil, 2)
    local xg = input:reshape(input:size(1), groups, -1)
    local diff = xg - xg:mean(3, true)
    local var = (diff * diff):mean(3, true)
    local y = (diff / (var + eps):sqrt()):view(table.unpack(input.shape))
    return affine(y, a.weight, a.bias, channel_shape(input))
  end
end
