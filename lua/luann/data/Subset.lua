--- data.Subset: the samples of another dataset at given indices, in that order.
-- @usage local small = data.Subset(train, {1, 2, 3})
-- local first1000 = data.Subset(train, 1000)   -- indices 1..1000
local luann = require "luann"
local check = require "luann.utils.check"
local Dataset = require "luann.data.Dataset"

local Subset = Dataset:extend("Subset")

--- @param dataset a dataset
-- @param indices a list of 1-based indices, or n for the first n samples
function Subset:__init(dataset, indices)
  if type(indices) == "number" then
    local n = check.integer("data.Subset", 2, indices, "indices", nil, 0, 3)
    if n > #dataset then
      check.error(string.format("data.Subset: %d samples asked of a dataset of %d", n, #dataset), 2)
    end
    indices = {}
    for i = 1, n do indices[i] = i end
  elseif type(indices) ~= "table" then
    check.error("data.Subset: bad argument #2 'indices' (list of integers or a count expected)", 2)
  end
  local own = {} -- integers (4/2 read as 2), and safe from later edits of the list
  for k, v in ipairs(indices) do
    local i = check.to_integer(v)
    if i == nil then
      check.error(string.format("data.Subset: index %s at position %d is not an integer", tostring(v), k), 2)
    elseif i < 1 or i > #dataset then
      check.error(string.format("data.Subset: index %s at position %d out of range for a dataset of %d",
        tostring(v), k, #dataset), 2)
    end
    own[k] = i
  end
  self.dataset, self.indices = dataset, own
end

function Subset.__len(self)
  return #self.indices
end

--- The parent's batch tensors at the subset's indices (gathered once, on
-- first use), so that a DataLoader batches a split as fast as the whole.
function Subset:batch_tensors()
  if self._tensors == nil then
    local ts, convert
    if self.dataset.batch_tensors then ts, convert = self.dataset:batch_tensors() end
    if not ts then return nil end
    local index = luann.tensor(self.indices, { dtype = "int64" })
    local picked = {}
    for k, t in ipairs(ts) do picked[k] = t:index_select(1, index:to(t.device)) end
    self._tensors, self._convert = picked, convert
  end
  return self._tensors, self._convert
end

--- Sample i of the subset: sample indices[i] of the dataset.
function Subset:get(i)
  i = self:check_index(i)
  return self.dataset:get(self.indices[i])
end

return Subset
