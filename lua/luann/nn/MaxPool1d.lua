--- nn.MaxPool1d: the max over sliding windows of (N, C, L) or (C, L)
-- (F.max_pool1d), with the input's 1-based flat positions when
-- return_indices is set.
-- @usage local pool = nn.MaxPool1d(2)                 -- halves L
-- local pool = nn.MaxPool1d(3, {stride = 2, padding = 1, return_indices = true})
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local MaxPool1d = Module:extend("MaxPool1d")

local NAMES = { "kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode" }

--- Arguments by position in PyTorch's order (kernel_size, stride = kernel_size,
-- padding = 0, dilation = 1, return_indices = false, ceil_mode = false) or by
-- name in a trailing table; sizes numbers.
function MaxPool1d:__init(...)
  local a = check.args("nn.MaxPool1d", NAMES, select("#", ...), ...)
  if a.kernel_size == nil then check.error("nn.MaxPool1d: kernel_size is required", 2) end
  self.kernel_size, self.stride = a.kernel_size, a.stride or a.kernel_size
  self.padding, self.dilation = a.padding or 0, a.dilation or 1
  self.return_indices = a.return_indices or false
  self.ceil_mode = a.ceil_mode or false
end

--- @return the pooled tensor, and the indices with return_indices
function MaxPool1d:forward(x)
  return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
    self.ceil_mode, self.return_indices)
end

local function size_str(v)
  return type(v) == "table" and "(" .. table.concat(v, ",") .. ")" or tostring(v)
end

function MaxPool1d:extra_repr()
  return string.format("kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s",
    size_str(self.kernel_size), size_str(self.stride), size_str(self.padding),
    size_str(self.dilation), tostring(self.ceil_mode))
end

return MaxPool1d
