--- data.Dataset: the base of map-style datasets.
--
-- The dataset protocol, all a DataLoader needs (a subclass of Dataset, or
-- any table that follows it):
--
-- - `#ds` is the number of samples: define `__len` (on a class, it is the
--   metamethod; a plain table's length is its own);
-- - `ds:get(i)` gives sample i, **1-based** (1..#ds), as one or several
--   values (an image and its label): PyTorch's `__getitem__`.
--
-- A class that defines PyTorch's name `__getitem` instead of `get` works
-- too (with a one-time hint to rename it); note that the index is 1-based
-- here as well. `ds[i]` gives the same sample, packed in a list when get
-- returns more than one value. A DataLoader also takes a plain Lua list of
-- samples (see data.DataLoader).
-- @usage local Squares = data.Dataset:extend("Squares")
-- function Squares:__init(n) self.n = n end
-- function Squares:__len() return self.n end
-- function Squares:get(i) return luann.tensor({i}), luann.tensor(i * i) end
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local warn_once = require "luann.utils.warn_once"

local Dataset = class.new("Dataset")
Dataset.__self_name = "dataset" -- for the hint of a '.' call: dataset:method()

--- Sample i; subclasses define it (or PyTorch's name, __getitem).
-- @param i a 1-based index
-- @return the sample's values
function Dataset:get(i)
  local getitem = self.__getitem
  if type(getitem) == "function" then
    local name = class.typename(self)
    warn_once("getitem:" .. name, string.format("%s defines __getitem, used as get; luann's "
      .. "name for it is get(i), and i is 1-based (1..#dataset)", name))
    return getitem(self, i)
  end
  check.error(class.typename(self) .. ": get is not implemented (define get(i), 1-based, and __len)", 2)
end

function Dataset.__len(self)
  check.error(class.typename(self) .. ": __len is not implemented", 2)
end

-- ds[i] for integers (and floats with an integer value, as ds[4/2]);
-- methods and fields otherwise.
function Dataset.__index(self, k)
  if type(k) == "number" then
    local i = math.tointeger(k)
    if i == nil then
      check.error(string.format("%s: index must be an integer, got %s", class.typename(self), tostring(k)), 2)
    end
    local r = table.pack(self:get(i))
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
  if type(i) ~= "number" or math.tointeger(i) == nil then
    check.error(class.typename(self) .. ": index must be an integer, got " .. tostring(i), (level or 2) + 1)
  end
  i = math.tointeger(i)
  if i < 1 or i > n then
    check.error(string.format("%s: index %d out of range for a dataset of %d", class.typename(self), i, n), (level or 2) + 1)
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
