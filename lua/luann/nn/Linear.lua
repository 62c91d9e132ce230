--- nn.Linear: y = x W^T + b, through the fused luann.linear op.
-- @usage local fc = nn.Linear(784, 128)            -- bias on
-- local fc = nn.Linear(128, 10, false)              -- no bias
-- local fc = nn.Linear(4, 2, {bias = true, dtype = "float64"})
local luann = require "luann"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local init = require "luann.nn.initializers"

local Linear = Module:extend("Linear")
local OPTIONS = { bias = true, dtype = true, device = true }

--- Makes the layer; weight (out_features, in_features) and bias (out_features)
-- start uniform in +-1/sqrt(in_features), as PyTorch's defaults do.
-- @param in_features size of each input sample
-- @param out_features size of each output sample
-- @param bias a boolean (default true) or an options table
--   {bias = true, dtype = "float32", device = "cpu"}
function Linear:__init(in_features, out_features, bias)
  local opts = type(bias) == "table" and bias or { bias = bias }
  check.known_options("nn.Linear", opts, OPTIONS, 3)
  self.in_features = check.integer("nn.Linear", 1, in_features, "in_features", nil, 0, 3)
  self.out_features = check.integer("nn.Linear", 2, out_features, "out_features", nil, 0, 3)
  local has_bias = check.boolean("nn.Linear", 3, opts.bias, "bias", true, 3)
  local topts = { dtype = opts.dtype, device = opts.device }
  self.weight = Parameter(luann.empty(self.out_features, self.in_features, topts))
  if has_bias then self.bias = Parameter(luann.empty(self.out_features, topts)) end
  self:reset_parameters()
end

--- Re-draws weight and bias with the default initialisation.
function Linear:reset_parameters()
  init.kaiming_uniform_(self.weight, { a = math.sqrt(5) })
  if self.bias ~= nil then
    local bound = self.in_features > 0 and 1 / math.sqrt(self.in_features) or 0
    init.uniform_(self.bias, -bound, bound)
  end
end

--- y = x W^T + b for x of shape (..., in_features).
-- @param x a tensor
-- @return a tensor (..., out_features)
function Linear:forward(x)
  return luann.linear(x, self.weight, self.bias)
end

function Linear:extra_repr()
  return string.format("in_features=%d, out_features=%d, bias=%s", self.in_features,
    self.out_features, tostring(self.bias ~= nil))
end

return Linear
