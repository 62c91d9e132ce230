--- nn.init: filling parameters in place with PyTorch's initialisation
-- schemes. Each function runs without recording gradients and returns the
-- tensor. Keyword arguments are taken positionally or as one table:
-- `init.kaiming_uniform_(w, {a = math.sqrt(5)})` == `init.kaiming_uniform_(w, math.sqrt(5))`.
-- @module luann.nn.init
local luann = require "luann"
local check = require "luann.utils.check"

local init = {}

--- The recommended gain for a nonlinearity (PyTorch's table).
-- @param nonlinearity "linear", "conv1d".."conv3d", "sigmoid", "tanh",
--   "relu", "leaky_relu", "selu"
-- @param param the negative slope of leaky_relu (default 0.01)
-- @return number
function init.calculate_gain(nonlinearity, param)
  local n = nonlinearity
  if n == "linear" or n == "conv1d" or n == "conv2d" or n == "conv3d" or n == "sigmoid"
    or n == "conv_transpose1d" or n == "conv_transpose2d" or n == "conv_transpose3d" then
    return 1
  elseif n == "tanh" then
    return 5 / 3
  elseif n == "relu" then
    return math.sqrt(2)
  elseif n == "leaky_relu" then
    local slope = param == nil and 0.01 or param
    if type(slope) ~= "number" then
      check.error("calculate_gain: negative_slope " .. tostring(slope) .. " is not a valid number", 2)
    end
    return math.sqrt(2 / (1 + slope ^ 2))
  elseif n == "selu" then
    return 3 / 4
  end
  check.error("calculate_gain: unsupported nonlinearity " .. tostring(n), 2)
end

--- fan_in and fan_out of a weight (out, in, kernel...).
-- @param t a tensor of at least 2 dims
-- @return fan_in, fan_out
function init.calculate_fan_in_and_fan_out(t)
  check.tensor("calculate_fan_in_and_fan_out", 1, t, "tensor")
  if t:dim() < 2 then
    check.error("calculate_fan_in_and_fan_out: fan in and fan out can not be computed "
      .. "for a tensor with fewer than 2 dimensions", 2)
  end
  local receptive = 1
  for d = 3, t:dim() do receptive = receptive * t:size(d) end
  return t:size(2) * receptive, t:size(1) * receptive
end

-- Runs fill(t) with grad mode off and returns t.
local function fill(t, f)
  local guard <close> = luann.no_grad()
  f(t)
  return t
end

-- Options given as a table (only the known names) or positionally, by name order.
local function args(fname, opts, names, ...)
  if type(opts) == "table" then
    local known = {}
    for _, n in ipairs(names) do known[n] = true end
    check.known_options(fname, opts, known, 2) -- raised at the user's call, past this file
    return opts
  end
  local out, rest = {}, { opts, ... }
  for i, n in ipairs(names) do out[n] = rest[i] end
  return out
end

--- Fills t from U(a, b).
-- @param t a tensor
-- @param a lower bound (default 0), or an options table {a=, b=}
-- @param b upper bound (default 1)
-- @return t
function init.uniform_(t, a, b)
  check.tensor("init.uniform_", 1, t, "tensor")
  local o = args("init.uniform_", a, { "a", "b" }, b)
  local lo = check.number("init.uniform_", 2, o.a, "a", 0)
  local hi = check.number("init.uniform_", 3, o.b, "b", 1)
  return fill(t, function(x) x:uniform_(lo, hi) end)
end

--- Fills t from N(mean, std^2).
-- @param t a tensor
-- @param mean default 0, or an options table {mean=, std=}
-- @param std default 1
-- @return t
function init.normal_(t, mean, std)
  check.tensor("init.normal_", 1, t, "tensor")
  local o = args("init.normal_", mean, { "mean", "std" }, std)
  local m = check.number("init.normal_", 2, o.mean, "mean", 0)
  local s = check.number("init.normal_", 3, o.std, "std", 1, 0)
  return fill(t, function(x) x:normal_(m, s) end)
end

--- Fills t with val.
-- @return t
function init.constant_(t, val)
  check.tensor("init.constant_", 1, t, "tensor")
  local v = check.number("init.constant_", 2, val, "val")
  return fill(t, function(x) x:fill_(v) end)
end

--- Fills t with 0.
-- @return t
function init.zeros_(t)
  check.tensor("init.zeros_", 1, t, "tensor")
  return fill(t, function(x) x:zero_() end)
end

--- Fills t with 1.
-- @return t
function init.ones_(t)
  check.tensor("init.ones_", 1, t, "tensor")
  return fill(t, function(x) x:fill_(1) end)
end

--- Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
-- @param t a tensor of at least 2 dims
-- @param gain default 1 (or {gain=})
-- @return t
function init.xavier_uniform_(t, gain)
  check.tensor("init.xavier_uniform_", 1, t, "tensor")
  local o = args("init.xavier_uniform_", gain, { "gain" })
  local g = check.number("init.xavier_uniform_", 2, o.gain, "gain", 1)
  local fan_in, fan_out = init.calculate_fan_in_and_fan_out(t)
  local a = math.sqrt(3) * g * math.sqrt(2 / (fan_in + fan_out))
  return fill(t, function(x) x:uniform_(-a, a) end)
end

--- Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
-- @return t
function init.xavier_normal_(t, gain)
  check.tensor("init.xavier_normal_", 1, t, "tensor")
  local o = args("init.xavier_normal_", gain, { "gain" })
  local g = check.number("init.xavier_normal_", 2, o.gain, "gain", 1)
  local fan_in, fan_out = init.calculate_fan_in_and_fan_out(t)
  local std = g * math.sqrt(2 / (fan_in + fan_out))
  return fill(t, function(x) x:normal_(0, std) end)
end

-- std = gain(nonlinearity, a) / sqrt(fan) of the kaiming schemes.
local function kaiming_std(fname, t, a, mode, nonlinearity)
  local o = args(fname, a, { "a", "mode", "nonlinearity" }, mode, nonlinearity)
  local slope = check.number(fname, 2, o.a, "a", 0, nil, nil, 3)
  local m = check.choice(fname, 3, o.mode, "mode", "fan_in", { "fan_in", "fan_out" }, 3)
  local fan_in, fan_out = init.calculate_fan_in_and_fan_out(t)
  local fan = m == "fan_in" and fan_in or fan_out
  if fan == 0 then return 0 end
  return init.calculate_gain(o.nonlinearity or "leaky_relu", slope) / math.sqrt(fan)
end

--- He uniform: U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan).
-- @param t a tensor of at least 2 dims
-- @param a negative slope of the rectifier after this layer (default 0),
--   or an options table {a=, mode=, nonlinearity=}
-- @param mode "fan_in" (default) or "fan_out"
-- @param nonlinearity default "leaky_relu"
-- @return t
function init.kaiming_uniform_(t, a, mode, nonlinearity)
  check.tensor("init.kaiming_uniform_", 1, t, "tensor")
  local bound = math.sqrt(3) * kaiming_std("init.kaiming_uniform_", t, a, mode, nonlinearity)
  return fill(t, function(x) x:uniform_(-bound, bound) end)
end

--- He normal: N(0, std^2), std = gain / sqrt(fan); arguments as kaiming_uniform_.
-- @return t
function init.kaiming_normal_(t, a, mode, nonlinearity)
  check.tensor("init.kaiming_normal_", 1, t, "tensor")
  local std = kaiming_std("init.kaiming_normal_", t, a, mode, nonlinearity)
  return fill(t, function(x) x:normal_(0, std) end)
end

return init
