--- luann.save and luann.load: files by their extension.
--
--    luann.save("model.bin", model:state_dict())      -- luann's checkpoint format
--    luann.save("model.safetensors", model:state_dict(), {format = "pt"})
--    luann.save("x.npy", t)
--    local sd = luann.load("model.safetensors")       -- also .npy and .npz
--
-- ".safetensors" goes to luann.safetensors (the third argument is the
-- metadata), ".npy" and ".npz" (read only) to luann.numpy, any other name to luann's
-- own checkpoint format (core/checkpoint.c: any nesting of tables, numbers,
-- strings, booleans and tensors; {compression = 0..9}). A checkpoint loads
-- whatever its name. PyTorch's pickle files (.pt, .pth) are not read,
-- since unpickling runs code: load says how to convert one.
-- @module luann.serialization
local luann = require "luann.core" -- loaded by luann/init.lua, before "luann" is

local M = {}

local core_save, core_load = luann.save, luann.load
local CHECKPOINT_MAGIC = "LUANNCKP"

-- check.call, required on first use: luann's init loads this file before
-- check.lua can load.
local function call(...) return require("luann.utils.check").call(...) end

-- The path argument as the C functions checked it (a string, or a number
-- turned into one), with their messages.
local function check_path(fname, nargs, path)
  local t = type(path)
  if t == "string" or t == "number" then return tostring(path) end
  error(("bad argument #1 to '%s' (string expected, got %s)"):format(fname,
    nargs == 0 and "no value" or t), 3)
end

local function extension(path)
  return (path:match("%.([%w_]+)$") or ""):lower()
end

local function first_bytes(path, n)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read(n)
  f:close()
  return s
end

local PT_ADVICE = "load: %s is a PyTorch pickle file, which luann does not read (unpickling "
  .. "runs code). In PyTorch, save the state dict as safetensors instead: "
  .. "safetensors.torch.save_file(model.state_dict(), \"model.safetensors\", "
  .. "metadata={\"format\": \"pt\"}), or with numpy alone: numpy.savez(\"model.npz\", "
  .. "**{k: v.numpy() for k, v in model.state_dict().items()}); then in luann "
  .. "model:load_state_dict(luann.load(\"model.safetensors\")), or "
  .. "model:load_state_dict(luann.load(\"model.npz\"), {numbering = \"pytorch\"})"

--- Saves a value to path, in the format its extension names.
-- @param path the file (".safetensors", ".npy", or any other for luann's format)
-- @param value a state_dict (safetensors), a tensor (.npy), or any table of
--   tensors, numbers, strings and booleans (luann's format); never a Module
-- @param opts safetensors: the metadata ({format = "pt"} writes PyTorch's
--   numbering); luann's format: {compression = 0..9}
function M.save(...)
  local nargs, path, value, opts = select("#", ...), ...
  path = check_path("save", nargs, path)
  if nargs < 2 then error("bad argument #2 to 'save' (value expected)", 2) end
  local ext = extension(path)
  if ext == "safetensors" then return luann.safetensors.save(path, value, opts) end
  if ext == "npy" then return luann.numpy.save(path, value) end
  if ext == "npz" then
    error("save: luann reads .npz archives but does not write them; save a table of tensors "
      .. "as .safetensors, or each tensor as .npy", 2)
  end
  call(core_save, path, value, opts)
end

--- Loads what luann.save wrote, a safetensors file's tensors (its metadata
-- comes from luann.safetensors.load) or a .npy or .npz file.
-- @param path the file
-- @param opts safetensors: {numbering = "pytorch" | "luann"}
-- @return the value
function M.load(...)
  local nargs, path, opts = select("#", ...), ...
  path = check_path("load", nargs, path)
  local ext = extension(path)
  if ext == "safetensors" then
    -- one result, so that model:load_state_dict(luann.load(path)) reads no
    -- metadata as its options; luann.safetensors.load returns both
    local tensors = luann.safetensors.load(path, opts)
    return tensors
  end
  if ext == "npy" or ext == "npz" then return luann.numpy.load(path) end
  local head = first_bytes(path, 8)
  if head and head ~= CHECKPOINT_MAGIC and (ext == "pt" or ext == "pth"
      or head:byte(1) == 0x80 or head:sub(1, 2) == "PK") then
    error(PT_ADVICE:format(path), 2)
  end
  local value = call(core_load, path, opts)
  return value
end

return M
