--- luann.help: the library's doc comments at run time, for the REPL's
-- `help(x)` and for checking that every public name is documented.
--
-- The comments come from luann.docs, which the build collects from the
-- sources (bindings/docindex.lua). A function written in Lua is found by
-- where it is defined (debug.getinfo), one written in C by the name it is
-- registered under, a module or class by its name.
-- @usage local help = require "luann.help"
-- help.help(luann.matmul)              -- prints its doc comment
-- print(help.doc(luann.nn.Linear))     -- the text, or nil
local luann = require "luann"
local class = require "luann.utils.class"

local M = {}

local docs_cache
local function docs()
  docs_cache = docs_cache or require "luann.docs"
  return docs_cache
end

-- The packages that load on first use, and the functions luann adds from
-- Lua files on first use: walked like the rest.
local lazy_packages = { "nn", "optim", "data", "utils", "distributions", "image", "plot" }

local function is_class(t)
  return type(t) == "table" and rawget(t, "__name") ~= nil and rawget(t, "__index") ~= nil
end

-- A table of data (plot.colors), not of functions: not part of the API list.
local function is_data(t)
  for k, v in pairs(t) do
    if type(k) == "string" and (type(v) == "function" or type(v) == "table") then return false end
  end
  return getmetatable(t) == nil
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  return keys
end

-- "@lua/luann/nn/Linear.lua" -> "luann/nn/Linear.lua", wherever the
-- sources were loaded from (embedded, the checkout or a LuaRocks tree).
-- A class's method is its self-checking wrapper (utils/class.lua): the
-- method it wraps is the one defined beside its comment.
local function lua_key(f)
  f = class.unchecked[f] or f
  local info = debug.getinfo(f, "S")
  if info.what == "C" then return nil end
  local source = info.source:gsub("/init%.lua$", ".lua")
  local file = source:match("^@.*/(luann[/.].*)$") or source:match("^@(luann[/.].*)$")
  return file and (file .. ":" .. info.linedefined) or nil
end

--- Every public name of the library: luann's functions and packages (those
-- loaded on first use included), their functions, classes and the classes'
-- own methods, and the tensor methods ("Tensor:sum"). Names starting with
-- `_` are internal and left out; a value reachable by several names is
-- listed once, under the shortest.
-- @return a list of {name =, value =, kind = "module"|"class"|"function"|"method", owner =}
function M.api()
  for _, p in ipairs(lazy_packages) do local _ = luann[p] end
  -- what loads on first use (nn's layers): reach every module by its name
  for modname in docs()["@modules"]:gmatch("[^\n]+") do
    local t = luann
    for part in modname:gmatch("%.([^.]+)") do
      local ok, v = pcall(function() return t[part] end)
      if not ok or type(v) ~= "table" then break end
      t = v
    end
  end
  local mt = getmetatable(luann)
  for name in pairs(mt and mt.lazy_functions or {}) do local _ = luann[name] end
  local list, seen = {}, {}
  local queue = { { name = "luann", value = luann, kind = "module" } }
  seen[luann] = true
  local head = 1
  while queue[head] do
    local item = queue[head]
    head = head + 1
    list[#list + 1] = item
    local t = item.value
    if type(t) == "table" then
      local sep = item.kind == "class" and ":" or "."
      if getmetatable(t) and getmetatable(t).__pairs then
        for _ in pairs(t) do end -- loads what the table loads lazily
      end
      for _, k in ipairs(sorted_keys(t)) do
        local v = rawget(t, k)
        if seen[v] and seen[v] ~= true then -- another name of a listed value
          table.insert(seen[v].aliases, item.name .. sep .. k)
        elseif v ~= nil and not seen[v] and (type(v) == "function"
            or type(v) == "table" and not is_data(v)) then
          local kind = type(v) == "function" and (item.kind == "class" and "method" or "function")
            or is_class(v) and "class" or "module"
          if not (item.kind == "class" and type(v) == "table") then
            queue[#queue + 1] = { name = item.name .. sep .. k, value = v, kind = kind,
              owner = item.value, key = k, aliases = {} }
            seen[v] = queue[#queue]
          end
        end
      end
    end
  end
  local methods = getmetatable(luann.ones(1)).methods
  for _, k in ipairs(sorted_keys(methods)) do
    local v = methods[k]
    if type(v) == "function" then
      list[#list + 1] = { name = "Tensor:" .. k, value = v, kind = "method", key = k }
    end
  end
  return list
end

-- The doc text of a C function registered as `name` ("sum", "opencl.devices",
-- "Tensor:backward").
local function c_doc(name)
  local d = docs()
  local path = name:gsub("^luann%.", "")
  local method = path:match("^Tensor:(.*)$")
  if method then return d[path] or d[method] end
  return d[path]
end

--- The doc comment of an entry of api(); a class method without its own
-- comment takes the one of the method it overrides.
-- @param item an element of the list api() returns
-- @return the text, or nil when there is none
function M.doc_of_item(item)
  local v = item.value
  if item.kind == "module" then return docs()[item.name] end
  if item.kind == "class" then
    local text = docs()[item.name] or docs()["class " .. tostring(rawget(v, "__name"))]
    local init = rawget(v, "__init")
    if text == nil and type(init) == "function" and lua_key(init) then
      -- a class in a file named otherwise: the file's module comment
      local file = lua_key(init):gsub("%.lua:%d+$", "")
      text = docs()[file:gsub("/", ".")]
    end
    return text
  end
  local key = lua_key(v)
  if key == nil then return c_doc(item.name) end
  -- by where it is defined; else by name: a function made by a factory, or
  -- the function a module file returns (luann.utils.progress)
  local text = docs()[key] or docs()[item.name]
  for _, alias in ipairs(item.aliases or {}) do text = text or docs()[alias] end
  if text == nil and item.kind == "method" and type(item.owner) == "table" then
    local parent = rawget(item.owner, "super")
    while text == nil and type(parent) == "table" do
      local inherited = rawget(parent, item.key)
      if inherited then text = docs()[lua_key(inherited) or ""] end
      parent = rawget(parent, "super")
    end
  end
  return text
end

local by_value
--- The name and doc comment of a value of the library.
-- @param x a function, module, class, tensor method or instance (a module,
--   a tensor: its class)
-- @return the name and the text (nil when undocumented), or nil
function M.doc(x)
  if by_value == nil then
    by_value = {}
    for _, item in ipairs(M.api()) do
      if by_value[item.value] == nil then by_value[item.value] = item end
    end
  end
  local item = by_value[x]
  if item == nil and luann.is_tensor(x) then
    return "Tensor", "A tensor: see luann.tensor; its methods are help(t.sum), help(t.view), ..."
  end
  if item == nil and type(x) == "table" then
    local cls = getmetatable(x)
    while item == nil and type(cls) == "table" do
      item = by_value[cls]
      cls = rawget(cls, "super")
    end
  end
  if item == nil then return nil end
  return item.name, M.doc_of_item(item)
end

--- Prints the doc comment of x (a function, module, class or instance).
-- @param x the value, e.g. luann.matmul, luann.nn.Linear, t.sum, model
function M.help(x)
  local name, text = M.doc(x)
  if name == nil then
    if x == nil then
      print("help(x) prints the documentation of x, e.g. help(luann.matmul), "
        .. "help(luann.nn.Linear), help(t.sum)")
    else
      print("help: no documentation for this " .. type(x) .. " (not part of luann)")
    end
  elseif text == nil then
    print(name .. ": not documented")
  else
    print(name .. "\n\n" .. text)
  end
end

return M
