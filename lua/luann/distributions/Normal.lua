--- distributions.Normal: Gaussians with mean loc and standard deviation
-- scale (numbers or tensors, broadcast together).
-- @usage local d = Normal(mu, sigma)
-- local z = d:rsample()          -- mu + sigma * eps: gradients reach mu and sigma
-- local lp = d:log_prob(z):sum()
local luann = require "luann"
local check = require "luann.utils.check"
local Distribution = require "luann.distributions.Distribution"

local function is_float(t) return t.dtype == "float32" or t.dtype == "float64" end

local Normal = Distribution:extend("Normal")

local LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

local function as_tensor(v, like, name)
  if luann.is_tensor(v) then return v end
  if type(v) ~= "number" then
    check.error(string.format("Normal: bad argument '%s' (a number or tensor expected, got %s)", name, type(v)), 2)
  end
  return luann.tensor(v, { dtype = like and like.dtype or "float32", device = like and like.device })
end

--- @param loc mean (number or tensor)
-- @param scale standard deviation, > 0 (number or tensor)
function Normal:__init(loc, scale)
  local like = luann.is_tensor(loc) and loc or (luann.is_tensor(scale) and scale or nil)
  loc, scale = as_tensor(loc, like, "loc"), as_tensor(scale, like, "scale")
  if not (is_float(loc) and is_float(scale)) then
    check.error("Normal: loc and scale must be float tensors", 2)
  end
  local shape = Distribution.broadcast_shapes(loc.shape, scale.shape)
  if not shape then
    check.error(string.format("Normal: loc of shape %s and scale of shape %s do not broadcast",
      check.shape_str(loc), check.shape_str(scale)), 2)
  end
  if scale:detach():le(0):any():item() or scale:detach():isnan():any():item() then
    check.error("Normal: scale must be positive", 2)
  end
  self.loc, self.scale = loc:expand(shape), scale:expand(shape)
  self.batch_shape = shape
  self.mean, self.stddev = self.loc, self.scale
end

--- A reparameterised draw, loc + scale * eps: differentiable in loc and scale.
-- @param sample_shape nil, a count or a list of sizes in front of the batch shape
-- @param opts {generator = nil}
function Normal:rsample(sample_shape, opts)
  local shape = self:extended_shape("Normal.rsample", sample_shape)
  local eps = luann.randn(shape, { dtype = self.loc.dtype, device = self.loc.device,
    generator = Distribution.generator_of("Normal.rsample", opts) })
  return self.loc + self.scale * eps
end

--- A draw without history.
function Normal:sample(sample_shape, opts)
  local guard <close> = luann.no_grad()
  return self:rsample(sample_shape, opts)
end

--- log N(value; loc, scale) = -(value - loc)^2 / (2 scale^2) - log scale - log sqrt(2 pi)
function Normal:log_prob(value)
  value = as_tensor(value, self.loc, "value")
  local z = (value - self.loc) / self.scale
  return z * z * -0.5 - self.scale:log() - LOG_SQRT_2PI
end

--- 1/2 + log sqrt(2 pi) + log scale
function Normal:entropy()
  return self.scale:log() + (0.5 + LOG_SQRT_2PI)
end

return Normal
