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
--
-- A method (a function whose first parameter is `self`, assigned to a
-- class) is wrapped so that a call with '.' for ':' says so:
-- `Module.parameters: called with '.' instead of ':' (use m:parameters())`.
-- The check costs one getmetatable and one table read: the metatables of
-- instances that passed once are remembered. A class may set
-- `__self_name` ("m", "opt") for the hint.
local class = {}
local getmetatable = getmetatable -- read on every method call

--- The method a checking wrapper calls, by wrapper (weak keys; read only).
-- A caller that knows its self is right (Module.__call) calls the method
-- directly; a wrapper copied to another class (ModuleList.append =
-- Sequential.append) is re-wrapped for that class.
class.unchecked = setmetatable({}, { __mode = "k" })
local originals = class.unchecked

local function default_new(cls)
  return setmetatable({}, cls)
end

-- Whether self is an instance of cls, or cls or one of its subclasses (a
-- method called on a class, as ModuleList:extend("Name")).
local function is_self(self, cls)
  if class.isinstance(self, cls) then return true end
  local c = self
  while type(c) == "table" do
    if rawequal(c, cls) then return true end
    c = rawget(c, "super")
  end
  return false
end

-- The variable name in the hint: the nearest __self_name up the chain.
local function self_name(cls)
  local c = cls
  while type(c) == "table" do
    local n = rawget(c, "__self_name")
    if n then return n end
    c = rawget(c, "super")
  end
  return "obj"
end

local function bad_self(cls, name, self)
  local full, call = cls.__name .. "." .. name, self_name(cls) .. ":" .. name .. "()"
  local mt = getmetatable(self)
  if type(self) == "table" and type(mt) == "table" and type(rawget(mt, "__name")) == "string" then
    error(string.format("%s: expected a %s as self, got %s (called with '.' instead of ':'? use %s)",
      full, cls.__name, class.typename(self), call), 4)
  end
  error(string.format("%s: called with '.' instead of ':' (use %s)", full, call), 4)
end

-- The slow path of the check: self's metatable is not yet known to be a
-- class derived from cls. Instances' metatables that pass join `valid`.
local function check_self(valid, cls, name, self)
  if class.isinstance(self, cls) then
    valid[getmetatable(self)] = true
  elseif not is_self(self, cls) then
    bad_self(cls, name, self)
  end
end

-- Per class, the metatables of instances that passed (the class itself
-- first): the hot path is one getmetatable and one table read.
local valid_of = setmetatable({}, { __mode = "k" })

-- Wrappers with the method's own arity where it has few parameters: a
-- vararg call costs more than the check.
local function method(cls, name, f)
  local valid = valid_of[cls]
  if valid == nil then
    valid = setmetatable({ [cls] = true }, { __mode = "k" })
    valid_of[cls] = valid
  end
  local info = debug.getinfo(f, "u")
  if not info.isvararg and info.nparams <= 3 then
    return function(self, a, b)
      if not valid[getmetatable(self)] then check_self(valid, cls, name, self) end
      return f(self, a, b)
    end
  end
  return function(self, ...)
    if not valid[getmetatable(self)] then check_self(valid, cls, name, self) end
    return f(self, ...)
  end
end

-- A class's __newindex: methods are wrapped, anything else stored as is.
local function define(cls, k, v)
  if type(v) == "function" and type(k) == "string" and k:sub(1, 2) ~= "__" then
    local f = originals[v] or v
    if debug.getlocal(f, 1) == "self" then
      v = method(cls, k, f)
      originals[v] = f
    end
  end
  rawset(cls, k, v)
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
  end
  cls.__name = name
  cls.super = parent
  setmetatable(cls, { __index = parent, __call = construct, __newindex = define,
    __tostring = function() return "class " .. name end })
  if not parent then cls.extend = class.extend end -- a method: Module.extend("X") says so
  return cls
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
