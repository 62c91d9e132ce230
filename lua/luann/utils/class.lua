--- A small class mechanism shared by nn.Module, data.Dataset and the
-- optimizers and schedulers.
--
-- A class is a table that is also the metatable of its instances. Calling
-- the class makes an instance: `cls.__new(cls)` builds the empty object
-- (a base class may give it fields first), then `obj:__init(...)` runs.
-- Subclasses come from `Base:extend("Name")`; they find the parent's
-- methods through `__index` and get raw copies of its metamethods (Lua
-- reads those without `__index`). A subclass without `__init` inherits the
-- parent's; one with its own calls `Name.super.__init(self, ...)` when it
-- wants the parent's setup.
-- @usage
-- local Animal = class.new("Animal")
-- function Animal:__init(name) self.name = name end
-- local Dog = Animal:extend("Dog")
-- function Dog:__init(name) Dog.super.__init(self, name); self.legs = 4 end
-- local d = Dog("rex")  -- class.isinstance(d, Animal) == true
local class = {}

local function default_new(cls)
  return setmetatable({}, cls)
end

local function construct(cls, ...)
  local obj = cls.__new(cls)
  local init = cls.__init
  init(obj, ...)
  return obj
end

--- Makes a class named `name`, optionally inheriting from `parent`.
-- @param name the class name (used by tostring and error messages)
-- @param parent a class made by class.new, or nil
-- @return the class table; call it to make instances
function class.new(name, parent)
  if type(name) ~= "string" then
    error("class.new: bad argument #1 (class name string expected, got " .. type(name) .. ")", 2)
  end
  local cls = {}
  if parent then
    for k, v in pairs(parent) do
      if type(k) == "string" and k:sub(1, 2) == "__" then cls[k] = v end
    end
    if parent.__index == parent then cls.__index = cls end
  else
    cls.__index = cls
    cls.__new = default_new
    cls.__init = function() end
    cls.extend = class.extend
  end
  cls.__name = name
  cls.super = parent
  return setmetatable(cls, { __index = parent, __call = construct,
    __tostring = function() return "class " .. name end })
end

--- Makes a subclass of `self` (available on every class as a method).
-- @param name the subclass name
-- @return the subclass
function class.extend(self, name)
  if type(name) ~= "string" then
    error("extend: bad argument #1 (class name string expected, got " .. type(name) .. ")", 2)
  end
  return class.new(name, self)
end

--- Whether `obj` is an instance of `cls` or of one of its subclasses.
-- @param obj any value
-- @param cls a class
-- @return boolean
function class.isinstance(obj, cls)
  if type(obj) ~= "table" then return false end
  local c = getmetatable(obj)
  while type(c) == "table" do
    if c == cls then return true end
    c = rawget(c, "super")
  end
  return false
end

--- The class name of an instance, or Lua's type name for other values.
-- @param v any value
-- @return string
function class.typename(v)
  if type(v) == "userdata" then
    local core = package.loaded["luann.core"]
    if core and core.is_tensor(v) then return "tensor" end
  end
  local mt = getmetatable(v)
  if type(mt) == "table" and type(rawget(mt, "__name")) == "string" then
    return rawget(mt, "__name")
  end
  return type(v)
end

return class
