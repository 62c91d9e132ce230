--- nn.LayerNorm: normalises over the last dims (normalized_shape), then
-- scales and shifts elementwise: y = (x - mean) / sqrt(var + eps) * weight + bias.
-- @usage local norm = nn.LayerNorm(512)
-- local norm = nn.LayerNorm({3, 4}, {eps = 1e-6, elementwise_affine = false})
local luann = require "luann"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local F = require "luann.nn.functional"

local LayerNorm = Module:extend("LayerNorm")
local OPTIONS = { eps = true, elementwise_affine = true, bias = true, dtype = true, device = true }

--- weight starts at ones, bias at zeros, as PyTorch's.
-- @param normalized_shape an integer or a list of the trailing sizes
-- @param eps default 1e-5, or an options table
--   {eps = 1e-5, elementwise_affine = true, bias = true, dtype=, device=}
-- @param elementwise_affine default true
function LayerNorm:__init(normalized_shape, eps, elementwise_affine)
  local opts = type(eps) == "table" and eps or { eps = eps, elementwise_affine = elementwise_affine }
  check.known_options("nn.LayerNorm", opts, OPTIONS, 3)
  local shape = type(normalized_shape) == "table" and normalized_shape or { normalized_shape }
  if #shape == 0 then
    check.error("nn.LayerNorm: bad argument #1 'normalized_shape' (an integer or a non-empty list expected)", 2)
  end
  for i, n in ipairs(shape) do
    shape[i] = check.integer("nn.LayerNorm", 1, n, "normalized_shape", nil, 1, 3)
  end
  self.normalized_shape = shape
  self.eps = check.number("nn.LayerNorm", 2, opts.eps, "eps", 1e-5, 0, nil, 3)
  self.elementwise_affine = check.boolean("nn.LayerNorm", 3, opts.elementwise_affine,
    "elementwise_affine", true, 3)
  local topts = { dtype = opts.dtype, device = opts.device }
  if self.elementwise_affine then
    self.weight = Parameter(luann.ones(shape, topts))
    if opts.bias ~= false then self.bias = Parameter(luann.zeros(shape, topts)) end
  end
end

--- Re-sets weight to ones and bias to zeros.
function LayerNorm:reset_parameters()
  local guard <close> = luann.no_grad()
  if self.weight ~= nil then self.weight:fill_(1) end
  if self.bias ~= nil then self.bias:zero_() end
end

--- @param x (..., *normalized_shape)
-- @return x's shape
function LayerNorm:forward(x)
  return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
end

function LayerNorm:extra_repr()
  local shape = self.normalized_shape
  return string.format("(%s%s), eps=%s, elementwise_affine=%s", table.concat(shape, ", "),
    #shape == 1 and "," or "", tostring(self.eps), tostring(self.elementwise_affine))
end

return LayerNorm
