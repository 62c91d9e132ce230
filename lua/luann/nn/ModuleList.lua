--- nn.ModuleList: holds modules in a list so their parameters are
-- registered; indexable (list[1], negative from the end), #list, ipairs.
-- It has no forward: the owner decides how to call its items.
-- @usage self.layers = nn.ModuleList({ nn.Linear(4, 4), nn.Linear(4, 4) })
-- for _, layer in ipairs(self.layers) do x = layer(x) end
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Sequential = require "luann.nn.Sequential"

local ModuleList = Module:extend("ModuleList")

--- @param modules a list of modules (optional)
function ModuleList:__init(modules)
  if modules ~= nil and (type(modules) ~= "table" or Module.is_module(modules)) then
    check.error("nn.ModuleList: bad argument #1 (list of modules expected, got "
      .. class.typename(modules) .. ")", 2)
  end
  for i, m in ipairs(modules or {}) do
    if not Module.is_module(m) then
      check.error("nn.ModuleList: item " .. i .. " is not an nn.Module (got " .. class.typename(m) .. ")", 2)
    end
    self:add_module(tostring(i), m)
  end
end

ModuleList.__index = Sequential.__index
ModuleList.__len = Sequential.__len

--- Adds a module at the end.
-- @param m a module
-- @return self
ModuleList.append = Sequential.append

--- Appends every module of a list. (With a string it makes a subclass,
-- as extend does on every class.)
-- @param modules a list of modules
-- @return self
function ModuleList:extend(modules)
  if type(modules) == "string" then return class.extend(self, modules) end
  if type(modules) ~= "table" then
    check.error("extend: bad argument #1 (list of modules expected, got " .. class.typename(modules) .. ")", 2)
  end
  for _, m in ipairs(modules) do self:append(m) end
  return self
end

--- Inserts a module before position i (1-based), renumbering the rest.
-- @param i the position, 1..#list+1
-- @param m a module
function ModuleList:insert(i, m)
  local n = #self._modules.keys
  local k = check.to_integer(i)
  if k == nil or k < 1 or k > n + 1 then
    check.error("insert: index " .. tostring(i) .. " out of range for a list of " .. n, 2)
  end
  if not Module.is_module(m) then
    check.error("insert: bad argument #2 (nn.Module expected, got " .. class.typename(m) .. ")", 2)
  end
  local items = self:children()
  table.insert(items, k, m)
  self._modules.keys, self._modules.map = {}, {}
  for j, c in ipairs(items) do self:add_module(tostring(j), c) end
end

function ModuleList:forward()
  check.error("nn.ModuleList has no forward: call its items", 2)
end

return ModuleList
