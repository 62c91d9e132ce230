--- data.TensorDataset: samples are the slices along dim 1 of tensors of
-- equal first size (features and labels). A DataLoader over one gathers
-- whole batches with index_select instead of stacking samples.
-- @usage local ds = data.TensorDataset(x, y)     -- x (N, ...), y (N)
-- local xi, yi = ds:get(1)
local check = require "luann.utils.check"
local Dataset = require "luann.data.Dataset"

local TensorDataset = Dataset:extend("TensorDataset")

--- @param ... tensors with the same size along dim 1
function TensorDataset:__init(...)
  local ts = { ... }
  if select("#", ...) == 0 then check.error("data.TensorDataset: at least one tensor expected", 2) end
  for i = 1, select("#", ...) do
    check.tensor("data.TensorDataset", i, ts[i], nil, 3)
    if ts[i]:dim() == 0 then
      check.error("data.TensorDataset: bad argument #" .. i .. " (a 0-dim tensor has no samples)", 2)
    end
    if ts[i]:size(1) ~= ts[1]:size(1) then
      check.error(string.format("data.TensorDataset: size mismatch between tensors: %s and %s along dim 1",
        check.shape_str(ts[1]), check.shape_str(ts[i])), 2)
    end
  end
  self.tensors = ts
end

function TensorDataset.__len(self)
  return self.tensors[1]:size(1)
end

--- Sample i: the i-th slice of each tensor.
-- @param i a 1-based index
-- @return one value per tensor
function TensorDataset:get(i)
  i = self:check_index(i)
  local ts, out = self.tensors, {}
  for k = 1, #ts do out[k] = ts[k]:select(1, i) end
  return table.unpack(out, 1, #ts)
end

--- The tensors themselves (for the DataLoader's fast path).
-- @return a list of tensors
function TensorDataset:batch_tensors()
  return self.tensors
end

return TensorDataset
