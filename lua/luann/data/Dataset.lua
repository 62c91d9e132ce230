--- data.Dataset: the base of map-style datasets. A dataset knows its length
-- (`#ds`, through __len) and gives sample i (1-based) with `ds:get(i)`,
-- which may return several values (an image and its label). `ds[i]` gives
-- the same sample, packed in a list when get returns more than one value.
-- @usage local Squares = data.Dataset:extend("Squares")
-- function Squares:__init(n) self.n = n end
-- function Squares:__len() return self.n end
-- function Squares:get(i) return luann.tensor({i}), luann.tensor(i * i) end
local class = require "luann.utils.class"

local Dataset = class.new("Dataset")
Dataset.__self_name = "dataset" -- for the hint of a '.' call: dataset:method()

--- Sample i; subclasses define it.
-- @param i a 1-based index
-- @return the sample's values
function Dataset:get(i)
  error(class.typename(self) .. ": get is not implemented", 2)
end

function Dataset.__len(self)
  error(class.typename(self) .. ": __len is not implemented", 2)
end

-- ds[i] for integers; methods and fields otherwise.
function Dataset.__index(self, k)
  if math.type(k) == "integer" then
    local r = table.pack(self:get(k))
    if r.n == 1 then return r[1] end
    r.n = nil
    return r
  end
  return getmetatable(self)[k]
end

--- Checks an index against the length: "index 7 out of range for a dataset of 6".
-- @param i the index
-- @return i as an integer
function Dataset:check_index(i, level)
  local n = #self
  if math.type(i) ~= "integer" and not (type(i) == "number" and i == math.floor(i)) then
    error(class.typename(self) .. ": index must be an integer, got " .. tostring(i), (level or 2) + 1)
  end
  i = math.tointeger(i)
  if i < 1 or i > n then
    error(string.format("%s: index %d out of range for a dataset of %d", class.typename(self), i, n),
      (level or 2) + 1)
  end
  return i
end

--- The tensors holding every sample along dim 1, for the DataLoader's batch
-- fast path; nil (the default) when samples must come one by one from get.
-- A second result may list, per tensor, a function that turns a gathered
-- batch of it into what get would give (MNIST keeps its images as bytes, a
-- quarter of float32's memory, and converts each batch).
-- @return a list of tensors, or nil; a list of functions (or nil entries)
function Dataset:batch_tensors()
  return nil
end

return Dataset
