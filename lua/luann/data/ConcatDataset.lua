--- data.ConcatDataset: several datasets one after the other.
-- @usage local all = data.ConcatDataset({train, extra})   -- #all == #train + #extra
local luann = require "luann"
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local Dataset = require "luann.data.Dataset"

local ConcatDataset = Dataset:extend("ConcatDataset")

--- @param datasets a non-empty list of datasets
function ConcatDataset:__init(datasets)
  if type(datasets) ~= "table" or getmetatable(datasets) ~= nil or #datasets == 0 then
    check.error("data.ConcatDataset: bad argument #1 (a non-empty list of datasets expected, got "
      .. class.typename(datasets) .. ")", 2)
  end
  self.datasets, self.ends = {}, {} -- ends[k]: the last index of dataset k
  local total = 0
  for k, ds in ipairs(datasets) do
    local ok, n = pcall(function() return #ds end)
    if type(ds) ~= "table" or type(ds.get) ~= "function" or not ok or math.type(n) ~= "integer" then
      check.error(string.format("data.ConcatDataset: entry %d is a %s, not a dataset", k, class.typename(ds)), 2)
    end
    total = total + n
    self.datasets[k], self.ends[k] = ds, total
  end
end

function ConcatDataset.__len(self)
  return self.ends[#self.ends]
end

--- Sample i: found by binary search over the datasets' ends.
function ConcatDataset:get(i)
  i = self:check_index(i)
  local lo, hi = 1, #self.ends
  while lo < hi do
    local mid = (lo + hi) // 2
    if self.ends[mid] < i then lo = mid + 1 else hi = mid end
  end
  return self.datasets[lo]:get(i - (self.ends[lo - 1] or 0))
end

--- Every part's batch tensors joined (once, on first use) when every part
-- has them with the same count, for the DataLoader's fast path.
function ConcatDataset:batch_tensors()
  if self._tensors == nil then
    local parts, converts = {}, {}
    for k, ds in ipairs(self.datasets) do
      if ds.batch_tensors then parts[k], converts[k] = ds:batch_tensors() end
      if not parts[k] or #parts[k] ~= #parts[1] then return nil end
      for j = 1, #parts[1] do -- joined tensors need one conversion
        if (converts[k] or {})[j] ~= (converts[1] or {})[j] then return nil end
      end
    end
    local joined = {}
    for j = 1, #parts[1] do
      local list = {}
      for k = 1, #parts do list[k] = parts[k][j] end
      local ok, t = pcall(luann.cat, list, 1)
      if not ok then return nil end -- shapes or dtypes differ: one by one then
      joined[j] = t
    end
    self._tensors, self._convert = joined, converts[1]
  end
  return self._tensors, self._convert
end

return ConcatDataset
