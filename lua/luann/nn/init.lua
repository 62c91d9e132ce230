--- luann.nn: layers, losses and the Module base class (PyTorch's torch.nn).
--
--    local nn = require "luann.nn"        -- or luann.nn
--    local model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
--    local criterion = nn.CrossEntropyLoss()
--
-- Custom models extend nn.Module (see luann.nn.Module for the class
-- mechanism). nn.functional holds the same operations as functions,
-- nn.init the initialisation schemes, nn.utils gradient clipping.
local check = require "luann.utils.check"

local nn = {
  Module = require "luann.nn.Module",
  Parameter = require "luann.nn.Parameter",
  functional = require "luann.nn.functional",
  init = require "luann.nn.initializers",
  utils = require "luann.nn.utils",
}

--- Whether v is a module.
nn.is_module = nn.Module.is_module
--- Whether v is a parameter (made by nn.Parameter).
nn.is_parameter = nn.Parameter.is_parameter

-- Layers load on first use: nn.X requires luann.nn.X, so a new layer is one
-- new file. Only class names (capitalised) are looked up; a missing one is
-- an error at the caller's line rather than require's search list.
local function load_layer(t, name)
  local modname = "luann.nn." .. tostring(name)
  if type(name) == "string" and name:match("^%u[%w_]*$") then
    local ok, mod = pcall(require, modname)
    if ok then
      rawset(t, name, mod)
      return mod
    end
    -- an error inside the layer's own file is passed on as it is
    if not tostring(mod):find("module '" .. modname .. "' not found", 1, true) then error(mod, 0) end
  end
  check.error("luann.nn has no '" .. tostring(name) .. "'", 2)
end

-- The layers built into luann (package.preload holds its embedded files),
-- for discovery: the REPL completes nn.<Tab> from this set as it does tensor
-- methods (bindings/main.c), and pairs(nn) loads them all first.
local available = {}
for modname in pairs(package.preload) do
  local name = type(modname) == "string" and modname:match("^luann%.nn%.(%u[%w_]*)$")
  if name then available[name] = true end
end

local function all_pairs(t)
  for name in pairs(available) do local _ = t[name] end
  return next, t, nil
end

return setmetatable(nn, { __index = load_layer, __pairs = all_pairs, methods = available })
