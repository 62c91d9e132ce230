--- data.ListDataset: a plain Lua list of samples as a dataset (what a
-- DataLoader makes of a list it is given). A sample that is itself a plain
-- list, {x, y}, gives its values, as PyTorch's list of tuples does; any
-- other sample (a tensor, a number, a table with named fields) is one value.
-- @usage local loader = data.DataLoader({ {x1, y1}, {x2, y2}, {x3, y3} }, {batch_size = 2})
-- for x, y in loader do ... end   -- x stacks the x's, y the y's
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local Dataset = require "luann.data.Dataset"

local ListDataset = Dataset:extend("ListDataset")

--- @param samples a plain list of samples (kept, not copied)
function ListDataset:__init(samples)
  if type(samples) ~= "table" or getmetatable(samples) ~= nil then
    check.error("data.ListDataset: bad argument #1 (list of samples expected, got "
      .. class.typename(samples) .. ")", 2)
  end
  self.samples = samples
end

function ListDataset.__len(self)
  return rawlen(self.samples)
end

--- Sample i: the values of a plain-list sample, or the sample itself.
-- @param i a 1-based index
function ListDataset:get(i)
  local s = self.samples[self:check_index(i)]
  if type(s) == "table" and getmetatable(s) == nil and rawlen(s) > 0 then
    return table.unpack(s, 1, rawlen(s))
  end
  return s
end

return ListDataset
