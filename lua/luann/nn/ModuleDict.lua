--- nn.ModuleDict: holds modules by name so their parameters are
-- registered; dict.name or dict["name"] reaches one. A plain Lua table has
-- no order, so its names are sorted; a list of {name, module} pairs keeps
-- its order.
-- @usage self.heads = nn.ModuleDict({ cls = nn.Linear(8, 3), reg = nn.Linear(8, 1) })
-- for name, head in self.heads:items() do ... end
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"

local ModuleDict = Module:extend("ModuleDict")

--- @param modules a table name -> module, or a list of {name, module} pairs
function ModuleDict:__init(modules)
  if modules == nil then return end
  if type(modules) ~= "table" or Module.is_module(modules) then
    check.error("nn.ModuleDict: bad argument #1 (table of modules expected, got "
      .. class.typename(modules) .. ")", 2)
  end
  self:update(modules)
end

--- Adds or replaces modules.
-- @param modules a table name -> module, or a list of {name, module} pairs
function ModuleDict:update(modules)
  local pairs_list = {}
  if #modules > 0 then
    for i, p in ipairs(modules) do
      if type(p) ~= "table" or Module.is_module(p) then
        check.error("ModuleDict: item " .. i .. " must be a {name, module} pair", 2)
      end
      pairs_list[i] = p
    end
  else
    for k, m in pairs(modules) do pairs_list[#pairs_list + 1] = { k, m } end
    table.sort(pairs_list, function(a, b) return tostring(a[1]) < tostring(b[1]) end)
  end
  for _, p in ipairs(pairs_list) do
    if not Module.is_module(p[2]) then
      check.error("ModuleDict: '" .. tostring(p[1]) .. "' is not an nn.Module (got "
        .. class.typename(p[2]) .. ")", 2)
    end
    self:add_module(p[1], p[2])
  end
end

function ModuleDict.__len(self)
  return #self._modules.keys
end

--- The names in order.
-- @return a list of strings
function ModuleDict:keys()
  return table.move(self._modules.keys, 1, #self._modules.keys, 1, {})
end

--- The modules in order.
-- @return a list of modules
function ModuleDict:values()
  return self:children()
end

--- Iterates (name, module) in order.
-- @return an iterator
function ModuleDict:items()
  return self:named_children()
end

--- Removes a module and returns it.
-- @param name the name
-- @return the module (nil when absent)
function ModuleDict:pop(name)
  local m = self._modules.map[name]
  if m ~= nil then self[name] = nil end
  return m
end

function ModuleDict:forward()
  check.error("nn.ModuleDict has no forward: call its items", 2)
end

return ModuleDict
