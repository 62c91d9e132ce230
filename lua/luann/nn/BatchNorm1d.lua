--- nn.BatchNorm1d: batch normalisation of (N, C) or (N, C, L) per channel
-- (F.batch_norm), with learnable weight and bias (affine) and running
-- statistics (buffers running_mean, running_var, num_batches_tracked) that
-- training updates and eval uses. nn.BatchNorm2d extends it for (N, C, H, W).
-- @usage local bn = nn.BatchNorm1d(64)
-- local bn = nn.BatchNorm1d(64, {momentum = false, affine = false})  -- cumulative average
local luann = require "luann"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local F = require "luann.nn.functional"

local BatchNorm1d = Module:extend("BatchNorm1d")
BatchNorm1d.input_dims = { 2, 3 }

local NAMES = { "num_features", "eps", "momentum", "affine", "track_running_stats",
                "dtype", "device" }

--- Arguments by position in PyTorch's order or by name in a trailing table:
-- num_features (C), eps = 1e-5, momentum = 0.1 (false for PyTorch's None,
-- a cumulative average: a Lua table cannot hold nil), affine = true, track_running_stats = true, and the
-- tensors' dtype and device.
function BatchNorm1d:__init(...)
  local fname = "nn." .. self.__name
  local a = check.args(fname, NAMES, select("#", ...), ...)
  self.num_features = check.integer(fname, 1, a.num_features, "num_features", nil, 1, 3)
  self.eps = check.number(fname, 2, a.eps, "eps", 1e-5, 0, nil, 3)
  if a.momentum ~= false then -- self.momentum nil: the cumulative average
    self.momentum = check.number(fname, 3, a.momentum, "momentum", 0.1, 0, 1, 3)
  end
  self.affine = check.boolean(fname, 4, a.affine, "affine", true, 3)
  self.track_running_stats = check.boolean(fname, 5, a.track_running_stats,
    "track_running_stats", true, 3)
  local topts = { dtype = a.dtype, device = a.device }
  if self.affine then
    self.weight = Parameter(luann.ones(self.num_features, topts))
    self.bias = Parameter(luann.zeros(self.num_features, topts))
  end
  if self.track_running_stats then
    self:register_buffer("running_mean", luann.zeros(self.num_features, topts))
    self:register_buffer("running_var", luann.ones(self.num_features, topts))
    self:register_buffer("num_batches_tracked",
      luann.tensor(0, { dtype = "int64", device = a.device }))
  end
end

--- Running statistics back to mean 0, variance 1, no batches.
function BatchNorm1d:reset_running_stats()
  if not self.track_running_stats then return end
  local guard <close> = luann.no_grad()
  self.running_mean:zero_()
  self.running_var:fill_(1)
  self.num_batches_tracked:zero_()
end

--- Running statistics and weight 1, bias 0.
function BatchNorm1d:reset_parameters()
  self:reset_running_stats()
  if self.affine then
    local guard <close> = luann.no_grad()
    self.weight:fill_(1)
    self.bias:zero_()
  end
end

--- Normalises with the batch's statistics while training (and updates the
-- running ones), with the running ones in eval mode; without running
-- statistics, always with the batch's.
function BatchNorm1d:forward(x)
  check.tensor("nn." .. self.__name, 1, x, "input")
  local dims, ok = self.input_dims, false
  for _, d in ipairs(dims) do ok = ok or x:dim() == d end
  if not ok then
    check.error(string.format("nn.%s: expected a %s-d input, got %s", self.__name,
      table.concat(dims, "-d or "), check.shape_str(x)), 2)
  end
  local factor = self.momentum
  if self.training and self.track_running_stats then
    local guard <close> = luann.no_grad()
    self.num_batches_tracked:add_(1)
    if factor == nil then factor = 1 / self.num_batches_tracked:item() end
  end
  local batch_stats = self.training or not self.track_running_stats
  return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
    batch_stats, factor or 0, self.eps)
end

function BatchNorm1d:extra_repr()
  return string.format("%d, eps=%g, momentum=%s, affine=%s, track_running_stats=%s",
    self.num_features, self.eps, tostring(self.momentum), tostring(self.affine),
    tostring(self.track_running_stats))
end

return BatchNorm1d
