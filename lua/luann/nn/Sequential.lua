--- nn.Sequential: runs its children in order, each one's output feeding the
-- next. Children are named "1", "2", ... (or by the names given) and can be
-- reached as seq[1]; #seq counts them.
-- @usage local model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
-- local named = nn.Sequential({ {"fc1", nn.Linear(4, 8)}, {"act", nn.ReLU()} })
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"

local Sequential = Module:extend("Sequential")

--- @param ... modules, or one list of modules, or one list of {name, module} pairs
function Sequential:__init(...)
  local items = { ... }
  if select("#", ...) == 1 and type(items[1]) == "table" and not Module.is_module(items[1]) then
    items = items[1]
  end
  for i, m in ipairs(items) do
    if type(m) == "table" and not Module.is_module(m) then
      if type(m[1]) ~= "string" or not Module.is_module(m[2]) then
        check.error("nn.Sequential: bad argument #" .. i .. " ({name, module} pair expected)", 2)
      end
      self:add_module(m[1], m[2])
    elseif Module.is_module(m) then
      self:add_module(tostring(i), m)
    else
      check.error("nn.Sequential: bad argument #" .. i .. " (nn.Module expected, got "
        .. class.typename(m) .. ")", 2)
    end
  end
end

-- seq[i] is the i-th child (negative i counts from the end).
function Sequential.__index(self, k)
  if math.type(k) == "float" then -- seq[4/2]: an exact integer value counts as the integer
    local i = math.tointeger(k)
    if i == nil then
      check.error(string.format("%s: index must be an integer, got %s", class.typename(self), tostring(k)), 2)
    end
    k = i
  end
  if math.type(k) == "integer" then
    local keys = self._modules.keys
    if k < 0 then k = #keys + k + 1 end
    local name = keys[k]
    return name and self._modules.map[name] or nil
  end
  return Module.__index(self, k)
end

function Sequential.__len(self)
  return #self._modules.keys
end

--- Adds a module at the end, named by its position.
-- @param m a module
-- @return self
function Sequential:append(m)
  if not Module.is_module(m) then
    check.error("append: bad argument #1 (nn.Module expected, got " .. class.typename(m) .. ")", 2)
  end
  self:add_module(tostring(#self._modules.keys + 1), m)
  return self
end

--- Feeds x through every child in order.
-- @param x the input
-- @return the last child's output
function Sequential:forward(x)
  local map = self._modules.map
  for _, name in ipairs(self._modules.keys) do
    x = map[name](x)
  end
  return x
end

return Sequential
