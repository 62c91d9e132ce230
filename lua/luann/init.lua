--- luann: a deep learning engine with a C core and Lua 5.4 as its language.
-- `local luann = require "luann"` gives tensors, autograd, and (loaded on
-- first use) `luann.nn`, `luann.optim`, `luann.data`, `luann.utils`,
-- `luann.image` (PNG files), `luann.plot` (line plots), `luann.safetensors`
-- and `luann.numpy` (other programs' tensor files), and `luann.distributed`
-- (MPI, when built).
-- Names and semantics follow PyTorch where Lua allows; dims and indices
-- are 1-based as in Lua and Torch7, negative ones count from the end.
-- @module luann

local core = require "luann.core"
local luann = core -- the C table is the library; Lua parts are added here

luann.autograd = require "luann.autograd"
luann.no_grad = luann.autograd.no_grad
luann.enable_grad = luann.autograd.enable_grad
luann.einsum = require "luann.einsum"

-- OpenCL devices (bindings/ldevice.c); LUANN_DEVICE=opencl (or opencl:N,
-- cpu) makes that the default device of new tensors.
luann.opencl = core._opencl_module()
luann.cpu = core._cpu_module()
local env_device = os.getenv("LUANN_DEVICE")
if env_device and env_device ~= "" then
  local ok, dev = pcall(core.device, env_device)
  if not ok then error("LUANN_DEVICE: " .. tostring(dev), 0) end
  core.set_default_device(dev)
end

-- luann.save and luann.load choose the format by the file's extension
-- (luann's own checkpoints, safetensors, .npy, .npz): luann.serialization.
do
  local serialization = require "luann.serialization"
  luann.save, luann.load = serialization.save, serialization.load
end

-- Sub-packages load on first use, so `require "luann"` stays cheap; so do
-- the functions written in Lua on top of the library (their module adds
-- them to it).
local packages = { nn = true, optim = true, data = true, utils = true, distributions = true,
  image = true, plot = true, distributed = true, safetensors = true, numpy = true,
  numbering = true }
local functions = { multinomial = "luann.sampling", bernoulli = "luann.sampling" }
return setmetatable(luann, {
  lazy_functions = functions, -- for tools that list every function
  __index = function(t, key)
    if packages[key] then
      local m = require("luann." .. key)
      rawset(t, key, m)
      return m
    end
    if functions[key] then
      require(functions[key])
      return rawget(t, key)
    end
  end,
})
